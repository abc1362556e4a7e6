// TLS plaintext through a shared OpenSSL (docs/tls.md): finds the libssl
// files traced processes map and attaches the SSL_* uprobes of the capture
// object to them.
//
// Per traced process (the default) a uprobe is attached with that pid: the
// kernel installs its breakpoint only in that process's address space, so no
// other process on the node (a load generator, a sidecar) ever traps. A
// forked child does not inherit a pid-filtered uprobe: it is attached when
// its fork event arrives. Node-wide, one uprobe per file (pid -1) fires in
// every process mapping it and the BPF side keeps the traced ones.
#pragma once

#include <bpf/libbpf.h>

#include <atomic>
#include <cstdint>
#include <map>
#include <memory>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "agent/probes/capture_probes.h"
#include "agent/probes/tls_probe_points.h"
#include "symbolizer/proc/maps.h"

namespace weft {

enum class TlsProbeScope {
  kTracedProcesses,  // uprobes filtered by pid: untraced processes never trap
  kWholeNode,        // one uprobe per file for every process (pid -1)
};

struct TlsProbeStats {
  uint64_t files_probed = 0;  // attachments made: (process, libssl file), or files node-wide
  uint64_t files_failed = 0;  // libssl files whose symbols or attach failed
  uint64_t processes_scanned = 0;
  uint64_t links_detached = 0;  // uprobes handed to a background detach
};

class TlsProbes {
 public:
  // `capture` must outlive this object; destroy this first.
  TlsProbes(CaptureProbes& capture, TlsProbeScope scope);
  // Waits for every detach (StartDetach, or here if it was not started).
  ~TlsProbes();
  TlsProbes(const TlsProbes&) = delete;
  TlsProbes& operator=(const TlsProbes&) = delete;

  // Reads /proc/PID/maps of every process the kernel traces now (the
  // traced_pids map: seeded pids and their descendants), attaches to libssl
  // files not yet attached for it (exec, dlopen) and, per process, detaches
  // processes that left the map. Cheap to call every few hundred ms.
  void Rescan();
  // The same for one process.
  void ScanProcess(uint32_t pid);
  // A traced process forked `pid`: attach now, before its first SSL call if
  // possible. A pid weft still holds probes for is a reused one: its old
  // probes (bound to the dead task) are replaced.
  void OnProcessStarted(uint32_t pid);
  // `pid` exited: its probes are detached in the background.
  void OnProcessExited(uint32_t pid);

  // Detaches every uprobe in the background, in parallel: the kernel takes
  // tens of milliseconds per uprobe (an RCU grace period each), so a stop
  // overlaps it with its other work. The capture object may be destroyed
  // meanwhile: links keep their programs alive. No Rescan after.
  void StartDetach();

  TlsProbeScope scope() const { return scope_; }
  const TlsProbeStats& stats() const { return stats_; }

 private:
  struct LinkCloser {
    void operator()(bpf_link* link) const { bpf_link__destroy(link); }
  };
  using Link = std::unique_ptr<bpf_link, LinkCloser>;
  using ProbePoints = std::vector<SslProbePoint>;
  // Key of attached_ in node-wide scope.
  static constexpr int kAllProcesses = -1;

  struct Attachment {
    std::set<proc::FileId> files;
    std::vector<Link> links;
  };

  absl::StatusOr<const ProbePoints*> PointsOf(const proc::FileId& file, const std::string& path);
  // Entry and return uprobes on the probe points of one file, for `pid`.
  absl::Status AttachFile(const std::string& path, const ProbePoints& points, int pid,
                          std::vector<Link>& out);
  void Detach(int pid);
  void HandOverToHelper(const std::vector<Link>& links);
  void DetachInBackground(std::vector<Link> links);

  CaptureProbes& capture_;
  const TlsProbeScope scope_;
  std::map<int, Attachment> attached_;
  std::map<proc::FileId, ProbePoints> points_;
  std::set<proc::FileId> failed_files_;
  struct Detacher {
    std::thread thread;
    std::shared_ptr<std::atomic<bool>> done;
  };
  std::vector<Detacher> detachers_;
  bool stopping_ = false;
  int release_fd_ = -1;  // write end the detach helper waits on
  TlsProbeStats stats_;
};

}  // namespace weft
