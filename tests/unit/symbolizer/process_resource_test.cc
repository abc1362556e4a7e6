#include "agent/resources/process_resource.h"

#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <fstream>
#include <thread>

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "symbolizer/proc/proc_reader.h"
#include "tests/unit/symbolizer/fake_proc_tree.h"

namespace weft::resources {
namespace {

using ::testing::HasSubstr;
using ::testing::SizeIs;

const AttributeValue* Find(const Resource& resource, std::string_view key) {
  for (const Attribute& attribute : resource.attributes) {
    if (attribute.key == key) return &attribute.value;
  }
  return nullptr;
}

std::string StringAt(const Resource& resource, std::string_view key) {
  const AttributeValue* value = Find(resource, key);
  if (value == nullptr || !std::holds_alternative<std::string>(*value)) return "<absent>";
  return std::get<std::string>(*value);
}

AgentResourceConfig Config(KeyValues agent_attributes = {}) {
  AgentResourceConfig config;
  config.host_name = "node-1";
  config.boot_id = "boot-a";
  config.agent_attributes = std::move(agent_attributes);
  config.resolve_owner = false;
  return config;
}

proc::ProcessInfo Catalog() {
  proc::ProcessInfo process;
  process.pid = 4242;
  process.parent_pid = 4000;
  process.comm = "python3";
  process.exe_path = "/usr/bin/python3.11";
  process.cmdline = {"/usr/bin/python3", "examples/shop/catalog.py", "8081"};
  process.start_time_ticks = 777;
  return process;
}

TEST(BuildProcessResourceTest, DerivedResourceCarriesProcessHostAndSdkFacts) {
  std::shared_ptr<const Resource> resource = BuildProcessResource(Catalog(), Config());
  ASSERT_NE(resource, nullptr);
  EXPECT_EQ(resource->service_name, "catalog");
  EXPECT_EQ(StringAt(*resource, "service.name"), "catalog");
  EXPECT_EQ(StringAt(*resource, "host.name"), "node-1");
  EXPECT_EQ(StringAt(*resource, "process.executable.name"), "python3.11");
  EXPECT_EQ(StringAt(*resource, "process.executable.path"), "/usr/bin/python3.11");
  EXPECT_EQ(StringAt(*resource, "process.command"), "/usr/bin/python3");
  EXPECT_EQ(StringAt(*resource, "process.command_line"),
            "/usr/bin/python3 examples/shop/catalog.py 8081");
  EXPECT_EQ(StringAt(*resource, "telemetry.sdk.name"), "weft");
  EXPECT_EQ(StringAt(*resource, "telemetry.sdk.version"), WEFT_VERSION);
  EXPECT_EQ(StringAt(*resource, "telemetry.sdk.language"), "python");
  ASSERT_NE(Find(*resource, "process.pid"), nullptr);
  EXPECT_EQ(std::get<int64_t>(*Find(*resource, "process.pid")), 4242);
  EXPECT_EQ(std::get<int64_t>(*Find(*resource, "process.parent_pid")), 4000);
  EXPECT_EQ(Find(*resource, "process.owner"), nullptr);  // resolve_owner off
  EXPECT_EQ(resource->attributes.front().key, "service.name");
}

TEST(BuildProcessResourceTest, UnknownRuntimeOmitsLanguage) {
  proc::ProcessInfo nginx = Catalog();
  nginx.exe_path = "/usr/sbin/nginx";
  nginx.cmdline = {"nginx: worker process"};
  std::shared_ptr<const Resource> resource = BuildProcessResource(nginx, Config());
  EXPECT_EQ(resource->service_name, "nginx");
  EXPECT_EQ(Find(*resource, "telemetry.sdk.language"), nullptr);
}

TEST(BuildProcessResourceTest, InstanceIdIsStablePerProcessAndChangesWithPidReuse) {
  const std::string first =
      StringAt(*BuildProcessResource(Catalog(), Config()), "service.instance.id");
  const std::string again =
      StringAt(*BuildProcessResource(Catalog(), Config()), "service.instance.id");
  proc::ProcessInfo reused = Catalog();
  reused.start_time_ticks += 1;
  const std::string after_reuse =
      StringAt(*BuildProcessResource(reused, Config()), "service.instance.id");
  EXPECT_EQ(first, again);
  EXPECT_NE(first, after_reuse);
  EXPECT_THAT(first, SizeIs(36));
  EXPECT_EQ(first[14], '5');  // UUID version 5
  EXPECT_EQ(first, ServiceInstanceId(Config(), 4242, 777));
}

TEST(BuildProcessResourceTest, OtelServiceNameBeatsResourceAttributesBeatsDerived) {
  proc::ProcessInfo process = Catalog();
  process.otel_resource_attributes = "service.name=from-attributes";
  EXPECT_EQ(BuildProcessResource(process, Config())->service_name, "from-attributes");
  process.otel_service_name = " from-env ";
  std::shared_ptr<const Resource> resource = BuildProcessResource(process, Config());
  EXPECT_EQ(resource->service_name, "from-env");
  EXPECT_EQ(StringAt(*resource, "service.name"), "from-env");
}

TEST(BuildProcessResourceTest, EmptyOtelServiceNameIsIgnored) {
  proc::ProcessInfo process = Catalog();
  process.otel_service_name = "";
  EXPECT_EQ(BuildProcessResource(process, Config())->service_name, "catalog");
}

TEST(BuildProcessResourceTest, ProcessSettingsBeatAgentSettingsBeatDerived) {
  const KeyValues agent = {{"deployment.environment", "staging"},
                           {"service.name", "agent-wide"},
                           {"host.name", "k8s-node-7"},
                           {"service.instance.id", "shared-by-all"}};
  std::shared_ptr<const Resource> resource = BuildProcessResource(Catalog(), Config(agent));
  EXPECT_EQ(resource->service_name, "agent-wide");
  EXPECT_EQ(StringAt(*resource, "deployment.environment"), "staging");
  EXPECT_EQ(StringAt(*resource, "host.name"), "k8s-node-7");
  // One id for every process would break its uniqueness: the agent cannot set it.
  EXPECT_NE(StringAt(*resource, "service.instance.id"), "shared-by-all");

  proc::ProcessInfo process = Catalog();
  process.otel_resource_attributes =
      "service.name=catalog-api,deployment.environment=prod,service.instance.id=pod-3";
  resource = BuildProcessResource(process, Config(agent));
  EXPECT_EQ(resource->service_name, "catalog-api");
  EXPECT_EQ(StringAt(*resource, "deployment.environment"), "prod");
  EXPECT_EQ(StringAt(*resource, "service.instance.id"), "pod-3");
}

TEST(BuildProcessResourceTest, MeasuredFactsCannotBeOverridden) {
  proc::ProcessInfo process = Catalog();
  process.otel_resource_attributes =
      "process.pid=1,telemetry.sdk.name=fake,process.runtime.name=CPython";
  std::shared_ptr<const Resource> resource = BuildProcessResource(process, Config());
  EXPECT_EQ(std::get<int64_t>(*Find(*resource, "process.pid")), 4242);
  EXPECT_EQ(StringAt(*resource, "telemetry.sdk.name"), "weft");
  EXPECT_EQ(StringAt(*resource, "process.runtime.name"), "CPython");  // new key: added
}

TEST(BuildProcessResourceTest, PercentEncodedValuesAreDecoded) {
  proc::ProcessInfo process = Catalog();
  process.otel_resource_attributes = "service.name=shop%20catalog,team=a%2Cb%3Dc";
  std::shared_ptr<const Resource> resource = BuildProcessResource(process, Config());
  EXPECT_EQ(resource->service_name, "shop catalog");
  EXPECT_EQ(StringAt(*resource, "team"), "a,b=c");
}

TEST(BuildProcessResourceTest, MalformedAttributesAreDiscardedWithAWarning) {
  for (const char* malformed :
       {"service.name=x,oops", "=x", "service.name=%zz", "a=%", ",,,=", "service.name"}) {
    proc::ProcessInfo process = Catalog();
    process.otel_resource_attributes = malformed;
    std::vector<std::string> warnings;
    std::shared_ptr<const Resource> resource = BuildProcessResource(process, Config(), &warnings);
    EXPECT_EQ(resource->service_name, "catalog") << malformed;
    ASSERT_THAT(warnings, SizeIs(1)) << malformed;
    EXPECT_THAT(warnings[0], HasSubstr("4242"));
  }
}

TEST(BuildProcessResourceTest, OwnerIsResolvedWhenAsked) {
  proc::ProcessInfo process = Catalog();
  process.uid = 0;
  AgentResourceConfig config = Config();
  config.resolve_owner = true;
  EXPECT_EQ(StringAt(*BuildProcessResource(process, config), "process.owner"), "root");
}

TEST(BuildFallbackResourceTest, NamesAnUnknownService) {
  std::shared_ptr<const Resource> resource = BuildFallbackResource(99, Config());
  EXPECT_EQ(resource->service_name, "unknown_service");
  EXPECT_EQ(std::get<int64_t>(*Find(*resource, "process.pid")), 99);
  EXPECT_EQ(StringAt(*resource, "host.name"), "node-1");
}

TEST(BuildProcessResourceTest, EndToEndFromFakeProcTree) {
  weft::testing::FakeProcTree tree;
  tree.Add({.pid = 500,
            .comm = "python3",
            .exe = "/usr/bin/python3.11",
            .cmdline = {"/usr/bin/python3", "stock.py"},
            .environ = {"HOME=/root", "OTEL_RESOURCE_ATTRIBUTES=service.namespace=shop"}});
  absl::StatusOr<proc::ProcessInfo> process = proc::ProcReader(tree.root()).ReadProcess(500);
  ASSERT_TRUE(process.ok()) << process.status();
  std::shared_ptr<const Resource> resource = BuildProcessResource(*process, Config());
  EXPECT_EQ(resource->service_name, "stock");
  EXPECT_EQ(StringAt(*resource, "service.namespace"), "shop");
  EXPECT_EQ(Find(*resource, "HOME"), nullptr);
}

TEST(BuildProcessResourceTest, RealPythonProcessIsNamedAfterItsScript) {
  const std::filesystem::path script =
      std::filesystem::temp_directory_path() / ("catalog-" + std::to_string(::getpid()) + ".py");
  std::ofstream(script) << "import time\ntime.sleep(30)\n";
  const std::string script_path = script.string();
  const pid_t child = ::fork();
  if (child == 0) {
    const char* argv[] = {"/usr/bin/python3", script_path.c_str(), nullptr};
    const char* envp[] = {"OTEL_RESOURCE_ATTRIBUTES=deployment.environment=test", nullptr};
    ::execve(argv[0], const_cast<char* const*>(argv), const_cast<char* const*>(envp));
    ::_exit(127);
  }
  proc::ProcReader reader;
  absl::StatusOr<proc::ProcessInfo> process;
  for (int attempt = 0; attempt < 500; ++attempt) {  // until the exec happened
    process = reader.ReadProcess(child);
    if (process.ok() && process->cmdline.size() == 2) break;
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  ::kill(child, SIGKILL);
  ::waitpid(child, nullptr, 0);
  std::filesystem::remove(script);
  ASSERT_TRUE(process.ok()) << process.status();
  std::shared_ptr<const Resource> resource = BuildProcessResource(*process, Config());
  EXPECT_EQ(resource->service_name, "catalog-" + std::to_string(::getpid()));
  EXPECT_EQ(StringAt(*resource, "telemetry.sdk.language"), "python");
  EXPECT_EQ(StringAt(*resource, "deployment.environment"), "test");
  EXPECT_EQ(std::get<int64_t>(*Find(*resource, "process.parent_pid")), ::getpid());
}

TEST(AgentResourceConfigTest, ReadsHostNameAndBootId) {
  absl::StatusOr<AgentResourceConfig> config = AgentResourceConfig::FromEnvironment();
  ASSERT_TRUE(config.ok()) << config.status();
  char host[256] = {};
  ASSERT_EQ(::gethostname(host, sizeof(host) - 1), 0);
  EXPECT_EQ(config->host_name, host);
  EXPECT_THAT(config->boot_id, SizeIs(36));
}

}  // namespace
}  // namespace weft::resources
