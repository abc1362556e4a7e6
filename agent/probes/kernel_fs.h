// tracefs and bpffs are not mounted on every node; weft mounts them when
// missing so uprobes and pinned objects behave the same everywhere.
#pragma once

#include <string>
#include <vector>

namespace weft {

// Mounts tracefs at /sys/kernel/tracing and bpffs at /sys/fs/bpf when they are
// not mounted yet. Returns human-readable notes of what was done or failed
// (failures are not fatal: the primary capture path needs neither).
std::vector<std::string> EnsureKernelFilesystems();

// True when `path` is a mount point of filesystem type `fstype`.
bool IsMounted(const std::string& path, const std::string& fstype);

}  // namespace weft
