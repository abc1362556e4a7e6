// Node.js request links (`--node-links inspector`, docs/parent-links.md).
// For each traced Node.js process: a uprobe on its libuv uv_fs_access (for
// that process only) reads the hook's messages (bpf/node_async.h), and a
// worker thread installs the hook through the process's inspector
// (node_injector.h), one process at a time since every inspector opens on
// the same port. At shutdown the hooks weft installed are taken out again.
#pragma once

#include <bpf/libbpf.h>

#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <map>
#include <memory>
#include <mutex>
#include <thread>
#include <vector>

#include "absl/status/status.h"
#include "absl/time/time.h"
#include "agent/nodejs/node_injector.h"
#include "agent/probes/capture_probes.h"
#include "symbolizer/elf/node_binary.h"
#include "symbolizer/proc/maps.h"

namespace weft::nodejs {

struct NodeLinkStats {
  uint64_t processes_hooked = 0;    // the hook runs in them (installed now or before)
  uint64_t processes_refused = 0;   // not signalled: a check said no (logged)
  uint64_t failures = 0;            // signalled, or attaching failed, and no hook came of it
  uint64_t processes_unhooked = 0;  // hooks taken out at shutdown
};

class NodeLinks {
 public:
  // `capture` must outlive this object.
  NodeLinks(CaptureProbes& capture, InjectorOptions options);
  ~NodeLinks();
  NodeLinks(const NodeLinks&) = delete;
  NodeLinks& operator=(const NodeLinks&) = delete;

  // Looks at every traced process; new Node.js ones get the uprobe and are
  // queued for the hook. Also applies the worker's results. Main thread.
  void Rescan();
  // Waits until the worker has nothing queued, up to `wait`. Main thread.
  void WaitIdle(absl::Duration wait);
  // Takes the hooks out of the processes weft hooked, within `budget`, and
  // detaches the uprobes. Main thread; after it, Rescan does nothing.
  void Shutdown(absl::Duration budget);

  NodeLinkStats stats() const;

  // Whether a connection with these ports (as the traced process sees them)
  // is one weft opened to a Node.js inspector: its bytes are weft's own
  // traffic, not the program's. Any thread.
  bool IsOwnInspectorConnection(uint16_t local_port, uint16_t remote_port) const;

 private:
  struct LinkCloser {
    void operator()(bpf_link* link) const { bpf_link__destroy(link); }
  };
  using Link = std::unique_ptr<bpf_link, LinkCloser>;
  enum class JobKind { kInstall, kUninstall };
  struct Job {
    JobKind kind;
    NodeTarget target;
  };
  struct Result {
    int pid;
    JobKind kind;
    absl::StatusOr<std::string> outcome;
  };
  struct Process {
    proc::FileId exe;
    enum class State { kNotNode, kQueued, kRetry, kHooked, kGaveUp } state = State::kNotNode;
    bool installed = false;  // weft put the hook there (not a hook found in place)
    int attempts = 0;
    absl::Time retry_at = absl::InfinitePast();
    NodeTarget target;
  };

  // The Node.js facts of one executable file, read once (its symbol table
  // is large); nullopt: not Node.js.
  const std::optional<elf::NodeBinary>& BinaryOf(const proc::FileId& file, const std::string& path);
  void ScanProcess(uint32_t pid);
  void ApplyResults();
  void Enqueue(Job job);
  void WorkerLoop();

  CaptureProbes& capture_;
  InjectorOptions options_;  // set before the worker starts, read-only after
  std::map<uint32_t, Process> processes_;
  std::map<proc::FileId, std::optional<elf::NodeBinary>> binaries_;
  std::map<uint32_t, Link> links_;
  bool shut_down_ = false;
  NodeLinkStats stats_;

  mutable std::mutex ports_mutex_;
  std::deque<uint16_t> own_ports_;  // weft's ends of its latest inspector connections

  std::mutex mutex_;
  std::condition_variable wake_;
  std::condition_variable idle_;
  std::deque<Job> jobs_;
  std::vector<Result> results_;
  bool busy_ = false;
  bool stopping_ = false;
  std::thread worker_;
};

}  // namespace weft::nodejs
