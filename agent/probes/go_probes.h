// Goroutine-aware parent links for Go programs (bpf/go_runtime.bpf.h): finds
// the Go executables traced processes run, attaches the capture object's
// runtime and net/http uprobes to each file once, and tells the kernel which
// processes have them (with where their g pointer lives). A uprobe on a file
// fires in every process running it; the BPF side keeps only traced ones.
#pragma once

#include <bpf/libbpf.h>

#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <thread>
#include <vector>

#include "absl/status/status.h"
#include "agent/probes/capture_probes.h"
#include "symbolizer/elf/go_probe_sites.h"
#include "symbolizer/proc/maps.h"

namespace weft {

struct GoProbeStats {
  uint64_t files_probed = 0;       // Go executables with uprobes attached
  uint64_t files_failed = 0;       // Go executables whose sites or attach failed
  uint64_t processes_enabled = 0;  // processes given goroutine contexts
};

class GoProbes {
 public:
  // `capture` must outlive this object; destroy this first.
  explicit GoProbes(CaptureProbes& capture) : capture_(capture) {}
  // Waits for the detach (StartDetach, or here if it was not started).
  ~GoProbes();
  GoProbes(const GoProbes&) = delete;
  GoProbes& operator=(const GoProbes&) = delete;

  // Looks at the executable of every process the kernel traces now (seeded
  // pids and their descendants) and enables the Go ones. A process is looked
  // at again only when its executable changes (exec). Cheap to call often.
  void Rescan();
  // The same for one process.
  void ScanProcess(uint32_t pid);

  // Detaches every uprobe on a background thread (the kernel is slow at
  // it); the capture object may be destroyed meanwhile. No Rescan after.
  void StartDetach();

  const GoProbeStats& stats() const { return stats_; }

 private:
  struct LinkCloser {
    void operator()(bpf_link* link) const { bpf_link__destroy(link); }
  };
  using Link = std::unique_ptr<bpf_link, LinkCloser>;

  // Attaches the uprobes of one executable; the sites it found, or an error.
  absl::StatusOr<elf::GoProbeSites> AttachFile(const std::string& path);
  absl::Status EnableProcess(uint32_t pid, const elf::GoProbeSites& sites);

  CaptureProbes& capture_;
  std::map<uint32_t, proc::FileId> scanned_;  // pid -> executable last looked at
  // Executables already handled: their sites, or nullopt when they failed.
  std::map<proc::FileId, std::optional<elf::GoProbeSites>> files_;
  std::vector<Link> links_;
  GoProbeStats stats_;
  std::thread detacher_;
};

}  // namespace weft
