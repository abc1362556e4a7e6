#include "agent/resources/resource_cache.h"

#include <map>

#include <gtest/gtest.h>

namespace weft::resources {
namespace {

// A scriptable process table that counts how often it is read.
class FakeProcesses {
 public:
  void Set(int pid, std::string script, uint64_t start_time) {
    proc::ProcessInfo process;
    process.pid = pid;
    process.exe_path = "/usr/bin/python3";
    process.cmdline = {"python3", std::move(script)};
    process.start_time_ticks = start_time;
    table_[pid] = process;
  }
  void Remove(int pid) { table_.erase(pid); }

  ProcessSource Source() {
    return ProcessSource{
        .read_process = [this](int pid) -> absl::StatusOr<proc::ProcessInfo> {
          ++full_reads;
          auto found = table_.find(pid);
          if (found == table_.end()) return absl::NotFoundError("no such process");
          return found->second;
        },
        .read_start_time = [this](int pid) -> absl::StatusOr<uint64_t> {
          auto found = table_.find(pid);
          if (found == table_.end()) return absl::NotFoundError("no such process");
          return found->second.start_time_ticks;
        },
    };
  }

  int full_reads = 0;

 private:
  std::map<int, proc::ProcessInfo> table_;
};

AgentResourceConfig Config() {
  AgentResourceConfig config;
  config.host_name = "node-1";
  config.resolve_owner = false;
  return config;
}

TEST(ResourceCacheTest, BuildsOncePerProcess) {
  FakeProcesses processes;
  processes.Set(10, "catalog.py", 100);
  ResourceCache cache(processes.Source(), Config(), std::chrono::seconds(0));
  std::shared_ptr<const Resource> first = cache.Get(10);
  std::shared_ptr<const Resource> second = cache.Get(10);
  EXPECT_EQ(first->service_name, "catalog");
  EXPECT_EQ(first, second);  // the same object, not an equal copy
  EXPECT_EQ(processes.full_reads, 1);
}

TEST(ResourceCacheTest, RebuildsWhenThePidIsReused) {
  FakeProcesses processes;
  processes.Set(10, "catalog.py", 100);
  ResourceCache cache(processes.Source(), Config(), std::chrono::seconds(0));
  EXPECT_EQ(cache.Get(10)->service_name, "catalog");
  processes.Set(10, "stock.py", 200);
  EXPECT_EQ(cache.Get(10)->service_name, "stock");
  EXPECT_EQ(processes.full_reads, 2);
}

TEST(ResourceCacheTest, LongRecheckIntervalTrustsTheCachedEntry) {
  FakeProcesses processes;
  processes.Set(10, "catalog.py", 100);
  ResourceCache cache(processes.Source(), Config(), std::chrono::hours(1));
  EXPECT_EQ(cache.Get(10)->service_name, "catalog");
  processes.Set(10, "stock.py", 200);
  EXPECT_EQ(cache.Get(10)->service_name, "catalog");
  cache.Forget(10);
  EXPECT_EQ(cache.Get(10)->service_name, "stock");
}

TEST(ResourceCacheTest, ExitedProcessKeepsItsResourceUntilForgotten) {
  FakeProcesses processes;
  processes.Set(10, "auth.py", 100);
  ResourceCache cache(processes.Source(), Config(), std::chrono::seconds(0));
  std::shared_ptr<const Resource> live = cache.Get(10);
  processes.Remove(10);
  EXPECT_EQ(cache.Get(10), live);
  cache.Forget(10);
  EXPECT_EQ(cache.size(), 0u);
  EXPECT_EQ(cache.Get(10)->service_name, "unknown_service");
}

TEST(ResourceCacheTest, UnreadableProcessGetsAFallbackThatIsRetried) {
  FakeProcesses processes;
  ResourceCache cache(processes.Source(), Config(), std::chrono::seconds(0));
  EXPECT_EQ(cache.Get(11)->service_name, "unknown_service");
  processes.Set(11, "stock.py", 5);
  EXPECT_EQ(cache.Get(11)->service_name, "stock");
}

}  // namespace
}  // namespace weft::resources
