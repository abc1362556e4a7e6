// One resource per traced process, built on first use. Thread-safe.
#pragma once

#include <chrono>
#include <functional>
#include <memory>
#include <mutex>
#include <unordered_map>

#include "absl/status/statusor.h"
#include "agent/model/span.h"
#include "agent/resources/process_resource.h"
#include "symbolizer/proc/process_info.h"

namespace weft::proc {
class ProcReader;
}

namespace weft::resources {

// How the cache learns about processes; tests pass fakes.
struct ProcessSource {
  std::function<absl::StatusOr<proc::ProcessInfo>(int tgid)> read_process;
  std::function<absl::StatusOr<uint64_t>(int tgid)> read_start_time;
};

// A source backed by a procfs reader, which must outlive the source.
ProcessSource ProcfsSource(const proc::ProcReader& reader);

class ResourceCache {
 public:
  // `recheck_interval`: how long a cached entry is trusted before the start
  // time is read again to detect pid reuse. Zero: check on every Get.
  ResourceCache(ProcessSource source, AgentResourceConfig config,
                std::chrono::steady_clock::duration recheck_interval = std::chrono::seconds(1));

  // Never null. Built once per tgid; rebuilt when the tgid's start time
  // changed (the pid was reused). A process that cannot be read gets a
  // fallback resource (see BuildFallbackResource), retried on later calls;
  // a process that exited keeps its last resource until Forget.
  std::shared_ptr<const Resource> Get(int tgid);

  // Called when the process exits.
  void Forget(int tgid);

  // A traced process forked child_tgid. If the child is gone by the time
  // weft learns of it (a short-lived forked worker), or whenever it cannot be
  // read later, it takes its parent's resource with its own process.pid:
  // without exec, a forked child runs the parent's program.
  void Inherit(int child_tgid, int parent_tgid);

  size_t size() const;

 private:
  struct Entry {
    std::shared_ptr<const Resource> resource;
    uint64_t start_time_ticks = 0;
    bool fallback = false;
    std::chrono::steady_clock::time_point checked_at;
  };

  Entry Build(int tgid);
  std::shared_ptr<const Resource> InheritedOrFallback(int tgid);

  ProcessSource source_;
  AgentResourceConfig config_;
  std::chrono::steady_clock::duration recheck_interval_;
  mutable std::mutex mutex_;
  std::unordered_map<int, Entry> entries_;
  std::unordered_map<int, int> parents_;  // forked child -> traced parent
};

}  // namespace weft::resources
