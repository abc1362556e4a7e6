// Asyncio task contexts for CPython programs (bpf/py_async.bpf.h). Once a
// traced process has loaded CPython's _asyncio module, this finds the
// interpreter binary it runs (the executable or a mapped libpython), tells
// the kernel where that process's _PyRuntime is and the struct offsets of
// its version, and attaches uprobes where _asyncio's calls to
// PyContext_CopyCurrent return, for that process only: untraced and
// non-asyncio Python programs never trap. Userspace turns the contexts into
// parent links (agent/links).
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
#include "symbolizer/elf/cpython.h"
#include "symbolizer/proc/maps.h"

namespace weft {

struct PyAsyncProbeStats {
  uint64_t processes_enabled = 0;      // processes whose asyncio contexts are read
  uint64_t processes_unsupported = 0;  // CPython versions whose layout weft does not know
  uint64_t attach_failures = 0;
};

class PyAsyncProbes {
 public:
  // `capture` must outlive this object; destroy this first.
  explicit PyAsyncProbes(CaptureProbes& capture) : capture_(capture) {}
  ~PyAsyncProbes();
  PyAsyncProbes(const PyAsyncProbes&) = delete;
  PyAsyncProbes& operator=(const PyAsyncProbes&) = delete;

  // Looks at every process the kernel traces now. A process is looked at
  // again when its executable changes (exec), and a CPython one until it
  // imports asyncio. Cheap to call often.
  void Rescan();
  void ScanProcess(uint32_t pid);

  // Detaches every uprobe on a background thread (the kernel is slow at it).
  void StartDetach();

  const PyAsyncProbeStats& stats() const { return stats_; }

 private:
  struct LinkCloser {
    void operator()(bpf_link* link) const { bpf_link__destroy(link); }
  };
  using Link = std::unique_ptr<bpf_link, LinkCloser>;

  struct Interpreter {
    proc::FileId file;
    std::string path;  // through /proc/PID/root
    elf::CPythonBinary binary;
  };
  // The interpreter facts of one file, read once; nullopt: not CPython.
  const std::optional<elf::CPythonBinary>& BinaryOf(const proc::FileId& file,
                                                    const std::string& path);
  // The sites of one _asyncio module file, found once.
  const absl::StatusOr<std::vector<uint64_t>>& SitesOf(const proc::FileId& file,
                                                       const std::string& path);
  absl::Status Enable(uint32_t pid, const Interpreter& interpreter,
                      const proc::Mapping& asyncio_module, const std::string& module_path,
                      const std::vector<proc::Mapping>& mappings);

  CaptureProbes& capture_;
  // pid -> executable last looked at, and whether that process is settled
  // (enabled, failed, or not CPython): not looked at again until it execs.
  std::map<uint32_t, std::pair<proc::FileId, bool>> scanned_;
  std::map<proc::FileId, std::optional<elf::CPythonBinary>> interpreters_;
  std::map<proc::FileId, absl::StatusOr<std::vector<uint64_t>>> asyncio_modules_;
  std::map<uint32_t, std::vector<Link>> links_;  // pid -> its _asyncio uprobes
  std::vector<Link> retired_;                    // links of processes that are gone
  PyAsyncProbeStats stats_;
  std::thread detacher_;
};

}  // namespace weft
