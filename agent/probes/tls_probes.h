// TLS plaintext through a shared OpenSSL (docs/tls.md): finds the libssl
// files traced processes map and attaches the SSL_* uprobes of the capture
// object to each file once. A uprobe on a file fires in every process that
// maps it; the BPF side keeps only traced ones.
#pragma once

#include <bpf/libbpf.h>

#include <cstdint>
#include <memory>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "absl/status/status.h"
#include "agent/probes/capture_probes.h"
#include "symbolizer/proc/maps.h"

namespace weft {

struct TlsProbeStats {
  uint64_t files_probed = 0;  // libssl files with uprobes attached
  uint64_t files_failed = 0;  // libssl files whose symbols or attach failed
  uint64_t processes_scanned = 0;
};

class TlsProbes {
 public:
  // `capture` must outlive this object; destroy this first.
  explicit TlsProbes(CaptureProbes& capture) : capture_(capture) {}
  // Waits for the detach (StartDetach, or here if it was not started).
  ~TlsProbes();
  TlsProbes(const TlsProbes&) = delete;
  TlsProbes& operator=(const TlsProbes&) = delete;

  // Reads /proc/PID/maps of every process the kernel traces now (the
  // traced_pids map: seeded pids and their descendants) and attaches to
  // libssl files not seen before. Cheap to call every few hundred ms.
  void Rescan();
  // The same for one process.
  void ScanProcess(uint32_t pid);
  // Attaches to one libssl file: `path` as weft can open it.
  absl::Status AttachFile(const std::string& path);

  // Detaches every uprobe on a background thread. The kernel takes tens of
  // milliseconds per uprobe, one at a time (half a second for one library),
  // so a stop overlaps it with its other work. The capture object may be
  // destroyed meanwhile: links keep their programs alive. No Rescan after.
  void StartDetach();

  const TlsProbeStats& stats() const { return stats_; }

 private:
  struct LinkCloser {
    void operator()(bpf_link* link) const { bpf_link__destroy(link); }
  };
  using Link = std::unique_ptr<bpf_link, LinkCloser>;

  CaptureProbes& capture_;
  std::set<proc::FileId> seen_files_;
  std::vector<Link> links_;
  TlsProbeStats stats_;
  std::thread detacher_;
};

}  // namespace weft
