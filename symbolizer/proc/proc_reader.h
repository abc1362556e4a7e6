// Reads process facts from a procfs tree. The root is configurable so tests
// can point it at a fake tree in a temp dir, and a containerised agent at the
// host's procfs mounted elsewhere (e.g. /host/proc).
#pragma once

#include <filesystem>
#include <vector>

#include "absl/status/statusor.h"
#include "symbolizer/proc/process_info.h"

namespace weft::proc {

class ProcReader {
 public:
  explicit ProcReader(std::filesystem::path root = "/proc");

  // exe and environ need ptrace access to the target (root, or
  // CAP_SYS_PTRACE in its user namespace); stat, status and cmdline do not.
  enum class PrivateFiles {
    kRequired,    // a permission error on them fails the read, naming the fix
    kBestEffort,  // leave exe_path and the OTEL_* values empty instead
  };

  // stat, status and cmdline are always required.
  absl::StatusOr<ProcessInfo> ReadProcess(
      int pid, PrivateFiles private_files = PrivateFiles::kRequired) const;

  // Only field 22 of stat: the cheap pid-reuse check.
  absl::StatusOr<uint64_t> ReadStartTime(int pid) const;

  bool ProcessExists(int pid) const;

  // Direct children of every thread of `pid`. Uses /proc/PID/task/*/children
  // (CONFIG_PROC_CHILDREN); without it, scans every process's parent pid.
  absl::StatusOr<std::vector<int>> ListChildren(int pid) const;

  // Children, grandchildren, ...; breadth-first, each pid once, cycle-safe.
  absl::StatusOr<std::vector<int>> ListDescendants(int pid) const;

  const std::filesystem::path& root() const { return root_; }

 private:
  std::filesystem::path PidDir(int pid) const;
  absl::StatusOr<std::vector<int>> ScanChildrenByParentPid(int pid) const;

  std::filesystem::path root_;
};

}  // namespace weft::proc
