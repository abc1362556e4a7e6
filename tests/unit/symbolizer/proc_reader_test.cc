#include "symbolizer/proc/proc_reader.h"

#include <signal.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <thread>

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "tests/unit/symbolizer/fake_proc_tree.h"

namespace weft::proc {
namespace {

using ::testing::Contains;
using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::UnorderedElementsAre;
using weft::testing::FakeProcess;
using weft::testing::FakeProcTree;

TEST(ProcReaderFakeTreeTest, ReadsEveryField) {
  FakeProcTree tree;
  tree.Add(
      {.pid = 300,
       .parent_pid = 12,
       .comm = "python3",
       .uid = 1001,
       .start_time_ticks = 98765,
       .exe = "/usr/bin/python3.11",
       .cmdline = {"/usr/bin/python3", "catalog.py", "--port", "8081"},
       .environ = {"PATH=/bin", "OTEL_SERVICE_NAME=catalog-svc",
                   "OTEL_RESOURCE_ATTRIBUTES=deployment.environment=dev", "SECRET_TOKEN=hunter2"}});
  ProcReader reader(tree.root());
  absl::StatusOr<ProcessInfo> info = reader.ReadProcess(300);
  ASSERT_TRUE(info.ok()) << info.status();
  EXPECT_EQ(info->pid, 300);
  EXPECT_EQ(info->parent_pid, 12);
  EXPECT_EQ(info->uid, 1001u);
  EXPECT_EQ(info->comm, "python3");
  EXPECT_EQ(info->exe_path, "/usr/bin/python3.11");
  EXPECT_THAT(info->cmdline, ElementsAre("/usr/bin/python3", "catalog.py", "--port", "8081"));
  EXPECT_EQ(info->start_time_ticks, 98765u);
  EXPECT_EQ(info->otel_service_name, "catalog-svc");
  EXPECT_EQ(info->otel_resource_attributes, "deployment.environment=dev");
  EXPECT_FALSE(info->is_go_binary);  // the link target does not exist here
}

TEST(ProcReaderFakeTreeTest, CommWithParenthesesKeepsLaterFieldsRight) {
  FakeProcTree tree;
  tree.Add({.pid = 301, .parent_pid = 5, .comm = "x) (y z", .start_time_ticks = 7});
  absl::StatusOr<ProcessInfo> info = ProcReader(tree.root()).ReadProcess(301);
  ASSERT_TRUE(info.ok()) << info.status();
  EXPECT_EQ(info->comm, "x) (y z");
  EXPECT_EQ(info->parent_pid, 5);
  EXPECT_EQ(info->start_time_ticks, 7u);
}

TEST(ProcReaderFakeTreeTest, KernelThreadHasNoExeAndNoArgv) {
  FakeProcTree tree;
  tree.Add({.pid = 2, .parent_pid = 0, .comm = "kthreadd"});
  absl::StatusOr<ProcessInfo> info = ProcReader(tree.root()).ReadProcess(2);
  ASSERT_TRUE(info.ok()) << info.status();
  EXPECT_EQ(info->exe_path, "");
  EXPECT_TRUE(info->cmdline.empty());
  EXPECT_EQ(info->otel_service_name, std::nullopt);
}

TEST(ProcReaderFakeTreeTest, DeletedExecutableLosesItsSuffix) {
  FakeProcTree tree;
  tree.Add({.pid = 302, .exe = "/opt/app/server (deleted)"});
  absl::StatusOr<ProcessInfo> info = ProcReader(tree.root()).ReadProcess(302);
  ASSERT_TRUE(info.ok()) << info.status();
  EXPECT_EQ(info->exe_path, "/opt/app/server");
}

TEST(ProcReaderFakeTreeTest, MissingProcessIsNotFoundAndSaysHowToCheck) {
  FakeProcTree tree;
  ProcReader reader(tree.root());
  absl::StatusOr<ProcessInfo> info = reader.ReadProcess(123);
  ASSERT_TRUE(absl::IsNotFound(info.status())) << info.status();
  EXPECT_THAT(info.status().message(), HasSubstr("no such process 123"));
  EXPECT_THAT(info.status().message(), HasSubstr("ps -p 123"));
  EXPECT_FALSE(reader.ProcessExists(123));
  EXPECT_FALSE(reader.ProcessExists(0));
  EXPECT_FALSE(reader.ProcessExists(-1));
  EXPECT_TRUE(absl::IsNotFound(reader.ListChildren(123).status()));
  EXPECT_TRUE(absl::IsNotFound(reader.ReadStartTime(123).status()));
}

TEST(ProcReaderFakeTreeTest, GarbledStatIsAnErrorNamingThePid) {
  FakeProcTree tree;
  tree.Add({.pid = 303});
  tree.Write(tree.root() / "303" / "stat", "303 (short) S 1\n");
  absl::StatusOr<ProcessInfo> info = ProcReader(tree.root()).ReadProcess(303);
  ASSERT_FALSE(info.ok());
  EXPECT_THAT(info.status().message(), HasSubstr("303"));
}

TEST(ProcReaderFakeTreeTest, UnreadableEnvironSaysRunAsRoot) {
  if (::geteuid() == 0) GTEST_SKIP() << "root reads files whatever their mode";
  FakeProcTree tree;
  tree.Add({.pid = 304, .environ = {"OTEL_SERVICE_NAME=x"}});
  ::chmod((tree.root() / "304" / "environ").c_str(), 0);
  absl::StatusOr<ProcessInfo> info = ProcReader(tree.root()).ReadProcess(304);
  ASSERT_TRUE(absl::IsPermissionDenied(info.status())) << info.status();
  EXPECT_THAT(info.status().message(), HasSubstr("304"));
  EXPECT_THAT(info.status().message(), HasSubstr("root"));
}

TEST(ProcReaderFakeTreeTest, BestEffortReadSkipsUnreadableEnviron) {
  if (::geteuid() == 0) GTEST_SKIP() << "root reads files whatever their mode";
  FakeProcTree tree;
  tree.Add({.pid = 305, .cmdline = {"python3", "auth.py"}, .environ = {"OTEL_SERVICE_NAME=x"}});
  ::chmod((tree.root() / "305" / "environ").c_str(), 0);
  absl::StatusOr<ProcessInfo> info =
      ProcReader(tree.root()).ReadProcess(305, ProcReader::PrivateFiles::kBestEffort);
  ASSERT_TRUE(info.ok()) << info.status();
  EXPECT_THAT(info->cmdline, ElementsAre("python3", "auth.py"));
  EXPECT_EQ(info->otel_service_name, std::nullopt);
}

TEST(ProcReaderFakeTreeTest, ListsChildrenAndDescendantsAcrossACycle) {
  FakeProcTree tree;
  // 10 -> {11, 12}, 11 -> {13}, 13 -> {10} (a cycle a racy read could show).
  tree.Add({.pid = 10, .children = {11, 12}});
  tree.Add({.pid = 11, .parent_pid = 10, .children = {13}});
  tree.Add({.pid = 12, .parent_pid = 10});
  tree.Add({.pid = 13, .parent_pid = 11, .children = {10}});
  ProcReader reader(tree.root());
  absl::StatusOr<std::vector<int>> children = reader.ListChildren(10);
  ASSERT_TRUE(children.ok()) << children.status();
  EXPECT_THAT(*children, UnorderedElementsAre(11, 12));
  absl::StatusOr<std::vector<int>> descendants = reader.ListDescendants(10);
  ASSERT_TRUE(descendants.ok()) << descendants.status();
  EXPECT_THAT(*descendants, UnorderedElementsAre(11, 12, 13));
}

TEST(ProcReaderFakeTreeTest, DescendantThatVanishedIsStillListedButNotExpanded) {
  FakeProcTree tree;
  tree.Add({.pid = 20, .children = {21, 22}});
  tree.Add({.pid = 21, .parent_pid = 20});
  // 22 exited after 20's children file was read: no /proc/22.
  absl::StatusOr<std::vector<int>> descendants = ProcReader(tree.root()).ListDescendants(20);
  ASSERT_TRUE(descendants.ok()) << descendants.status();
  EXPECT_THAT(*descendants, UnorderedElementsAre(21, 22));
}

TEST(ProcReaderFakeTreeTest, WithoutChildrenFilesScansParentPids) {
  FakeProcTree tree;
  tree.Add({.pid = 30}, /*with_children_files=*/false);
  tree.Add({.pid = 31, .parent_pid = 30}, false);
  tree.Add({.pid = 32, .parent_pid = 31}, false);
  tree.Add({.pid = 33, .parent_pid = 1}, false);
  absl::StatusOr<std::vector<int>> descendants = ProcReader(tree.root()).ListDescendants(30);
  ASSERT_TRUE(descendants.ok()) << descendants.status();
  EXPECT_THAT(*descendants, UnorderedElementsAre(31, 32));
}

// Children of this test process, on the machine's real /proc.
class RealProcTest : public ::testing::Test {
 protected:
  void TearDown() override {
    for (pid_t pid : spawned_) {
      ::kill(pid, SIGKILL);
      ::waitpid(pid, nullptr, 0);
    }
  }

  pid_t Spawn(const char* path, std::vector<const char*> argv) {
    argv.push_back(nullptr);
    const pid_t pid = ::fork();
    if (pid == 0) {
      ::execv(path, const_cast<char* const*>(argv.data()));
      ::_exit(127);
    }
    spawned_.push_back(pid);
    return pid;
  }

  // Waits (without asserting on time) until `pid` has exec'd `comm`.
  static bool WaitForComm(const ProcReader& reader, pid_t pid, std::string_view comm) {
    for (int attempt = 0; attempt < 500; ++attempt) {
      absl::StatusOr<ProcessInfo> info = reader.ReadProcess(pid);
      if (info.ok() && info->comm == comm) return true;
      std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
    return false;
  }

  std::vector<pid_t> spawned_;
};

TEST_F(RealProcTest, ReadsASpawnedSleep) {
  ProcReader reader;
  const pid_t child = Spawn("/bin/sleep", {"sleep", "30"});
  ASSERT_TRUE(WaitForComm(reader, child, "sleep"));
  absl::StatusOr<ProcessInfo> info = reader.ReadProcess(child);
  ASSERT_TRUE(info.ok()) << info.status();
  EXPECT_EQ(info->parent_pid, ::getpid());
  EXPECT_EQ(info->uid, ::getuid());
  EXPECT_THAT(info->cmdline, ElementsAre("sleep", "30"));
  EXPECT_EQ(std::filesystem::path(info->exe_path).filename(), "sleep");
  EXPECT_FALSE(info->is_go_binary);
  absl::StatusOr<uint64_t> start_time = reader.ReadStartTime(child);
  ASSERT_TRUE(start_time.ok());
  EXPECT_EQ(*start_time, info->start_time_ticks);

  absl::StatusOr<std::vector<int>> children = reader.ListChildren(::getpid());
  ASSERT_TRUE(children.ok()) << children.status();
  EXPECT_THAT(*children, Contains(child));
}

TEST_F(RealProcTest, FindsGrandchildrenAndForgetsReapedProcesses) {
  ProcReader reader;
  // sh forks sleep and waits for it: a grandchild of this test.
  const pid_t shell = Spawn("/bin/sh", {"sh", "-c", "/bin/sleep 30 & wait"});
  std::vector<int> descendants;
  for (int attempt = 0; attempt < 500 && descendants.size() < 2; ++attempt) {
    absl::StatusOr<std::vector<int>> listed = reader.ListDescendants(::getpid());
    ASSERT_TRUE(listed.ok()) << listed.status();
    descendants = *listed;
    if (descendants.size() < 2) std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  EXPECT_THAT(descendants, Contains(shell));
  absl::StatusOr<std::vector<int>> below_shell = reader.ListDescendants(shell);
  ASSERT_TRUE(below_shell.ok()) << below_shell.status();
  ASSERT_EQ(below_shell->size(), 1u);
  const int grandchild = below_shell->front();
  EXPECT_THAT(descendants, Contains(grandchild));
  ASSERT_TRUE(WaitForComm(reader, grandchild, "sleep"));
  absl::StatusOr<ProcessInfo> info = reader.ReadProcess(grandchild);
  ASSERT_TRUE(info.ok()) << info.status();
  EXPECT_EQ(info->parent_pid, shell);

  ::kill(grandchild, SIGKILL);
  ::kill(shell, SIGKILL);
  ::waitpid(shell, nullptr, 0);
  spawned_.clear();
  EXPECT_FALSE(reader.ProcessExists(shell));
  EXPECT_TRUE(absl::IsNotFound(reader.ReadProcess(shell).status()));
}

}  // namespace
}  // namespace weft::proc
