#include "agent/resources/program_identity.h"

#include <gtest/gtest.h>

namespace weft::resources {
namespace {

proc::ProcessInfo Process(std::string exe, std::vector<std::string> cmdline,
                          std::string comm = "") {
  proc::ProcessInfo process;
  process.pid = 100;
  process.exe_path = std::move(exe);
  process.cmdline = std::move(cmdline);
  process.comm = std::move(comm);
  return process;
}

struct Case {
  std::string exe;
  std::vector<std::string> cmdline;
  std::string service_name;
  std::optional<std::string> language;
};

class IdentifyProgramTest : public ::testing::TestWithParam<Case> {};

TEST_P(IdentifyProgramTest, DerivesServiceNameAndLanguage) {
  const Case& c = GetParam();
  const ProgramIdentity identity = IdentifyProgram(Process(c.exe, c.cmdline));
  EXPECT_EQ(identity.service_name, c.service_name);
  EXPECT_EQ(identity.language, c.language);
}

INSTANTIATE_TEST_SUITE_P(
    Programs, IdentifyProgramTest,
    ::testing::Values(
        // The cases the shop demo and the brief name.
        Case{"/usr/bin/python3.11", {"python3", "catalog.py"}, "catalog", "python"},
        Case{"/usr/bin/python3.11",
             {"/usr/bin/python3", "examples/shop/store-fe.py", "8080"},
             "store-fe",
             "python"},
        Case{"/usr/bin/python3.11",
             {"python3", "-m", "http.server", "8000"},
             "http.server",
             "python"},
        Case{"/usr/sbin/nginx", {"nginx: worker process"}, "nginx", std::nullopt},
        Case{"/usr/bin/node", {"node", "server.js"}, "server", "nodejs"},
        Case{"/usr/bin/python3.11",
             {"/usr/bin/python3", "/usr/bin/gunicorn", "app:app"},
             "gunicorn",
             "python"},
        Case{"/usr/bin/python3.11", {"gunicorn", "app:app"}, "gunicorn", "python"},
        Case{"/usr/bin/python3.11", {"gunicorn: master [app:app]"}, "gunicorn", "python"},
        // Interpreter options before the program.
        Case{"/usr/bin/python3.11",
             {"python3", "-u", "-W", "ignore", "-X", "dev", "stock.py"},
             "stock",
             "python"},
        Case{"/usr/bin/python3.11", {"python3", "-mflask", "run"}, "flask", "python"},
        Case{"/usr/bin/python3.11", {"python3", "-c", "print(1)"}, "python3", "python"},
        Case{"/usr/bin/python3.11", {"python3", "/srv/app/__main__.py"}, "app", "python"},
        Case{"/usr/bin/node",
             {"node", "--require", "dotenv/config", "--inspect", "api.mjs"},
             "api",
             "nodejs"},
        Case{"/usr/bin/node", {"node", "-e", "1"}, "node", "nodejs"},
        Case{"/usr/lib/jvm/bin/java", {"java", "-Xmx1g", "-jar", "/opt/shop.jar"}, "shop", "java"},
        Case{"/usr/lib/jvm/bin/java",
             {"java", "-cp", "lib/*", "-Dx=y", "org.shop.Main"},
             "Main",
             "java"},
        Case{"/usr/lib/jvm/bin/java",
             {"java", "-m", "shop.core/org.shop.Main"},
             "shop.core",
             "java"},
        Case{"/usr/bin/ruby3.1", {"ruby", "-I", "lib", "worker.rb"}, "worker", "ruby"},
        Case{"/usr/bin/perl", {"perl", "-w", "cron.pl"}, "cron", std::nullopt},
        Case{"/usr/bin/php8.2", {"php", "-d", "x=1", "index.php"}, "index", "php"},
        Case{"/usr/bin/bash", {"/bin/bash", "./deploy.sh", "now"}, "deploy", std::nullopt},
        Case{"/usr/bin/dash", {"sh", "-c", "sleep 1"}, "sh", std::nullopt},
        Case{"/usr/bin/bash", {"bash", "-lc", "exec worker"}, "bash", std::nullopt},
        Case{"/usr/bin/bash", {"bash", "-ex", "job.sh"}, "job", std::nullopt},
        Case{"/usr/bin/python3.11", {"python3", "-Bc", "import x"}, "python3", "python"},
        Case{"/usr/bin/python3.11",
             {"python3", "-Xpycache_prefix=/tmp", "cron.py"},
             "cron",
             "python"},
        // Not interpreters: the executable names the program.
        Case{"/usr/local/bin/envoy", {"envoy", "-c", "x.yaml"}, "envoy", std::nullopt},
        Case{"/usr/share/dotnet/dotnet", {"dotnet", "Api.dll"}, "dotnet", "dotnet"}));

TEST(IdentifyProgramFallbackTest, GoBinaryReportsGo) {
  proc::ProcessInfo process = Process("/usr/local/bin/checkout", {"checkout"});
  process.is_go_binary = true;
  const ProgramIdentity identity = IdentifyProgram(process);
  EXPECT_EQ(identity.service_name, "checkout");
  EXPECT_EQ(identity.language, "go");
}

TEST(IdentifyProgramFallbackTest, NoExeUsesArgvZeroThenComm) {
  EXPECT_EQ(IdentifyProgram(Process("", {"/opt/bin/worker", "-x"}, "wrk")).service_name, "worker");
  EXPECT_EQ(IdentifyProgram(Process("", {}, "kworker/0:1")).service_name, "kworker/0:1");
}

TEST(BaseNameTest, HandlesSlashes) {
  EXPECT_EQ(BaseName("/usr/sbin/nginx"), "nginx");
  EXPECT_EQ(BaseName("nginx"), "nginx");
  EXPECT_EQ(BaseName("/srv/app/"), "app");
  EXPECT_EQ(BaseName(""), "");
}

}  // namespace
}  // namespace weft::resources
