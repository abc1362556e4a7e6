// What weft knows about one process, read from procfs: enough to name it
// (resources) and to tell a reused pid from the process first seen under it.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

namespace weft::proc {

struct ProcessInfo {
  int pid = 0;
  int parent_pid = 0;
  uint32_t uid = 0;  // real uid
  // Kernel's short name (at most 15 bytes); may contain spaces and parentheses.
  std::string comm;
  // Target of /proc/PID/exe, in the process's own mount namespace; empty for
  // kernel threads and zombies. A " (deleted)" suffix is removed.
  std::string exe_path;
  std::vector<std::string> cmdline;  // argv; empty for kernel threads
  // Field 22 of /proc/PID/stat: clock ticks after boot. (pid, start time)
  // identifies a process across pid reuse.
  uint64_t start_time_ticks = 0;
  // The only environment variables kept: a process's own OpenTelemetry
  // settings. The rest of the environment may hold secrets.
  std::optional<std::string> otel_service_name;
  std::optional<std::string> otel_resource_attributes;
  // The executable carries a .go.buildinfo section.
  bool is_go_binary = false;
};

}  // namespace weft::proc
