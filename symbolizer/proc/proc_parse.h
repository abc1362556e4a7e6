// Pure parsers for the procfs text formats weft reads. No I/O: the reader
// feeds them file contents, tests feed them strings.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/statusor.h"

namespace weft::proc {

struct StatFields {
  int pid = 0;
  std::string comm;
  char state = '?';
  int parent_pid = 0;
  uint64_t start_time_ticks = 0;
};

// Parses /proc/PID/stat. The comm field is delimited by the first '(' and the
// LAST ')', since a comm may itself contain ") (" and spaces.
absl::StatusOr<StatFields> ParseStat(std::string_view content);

// Real uid from the "Uid:" line of /proc/PID/status.
absl::StatusOr<uint32_t> ParseStatusUid(std::string_view content);

// Splits NUL-separated content (cmdline, environ); a trailing NUL does not
// produce an empty last element.
std::vector<std::string> SplitNul(std::string_view content);

// Value of `name` in NUL-separated environ content, if present.
std::optional<std::string> FindEnvironValue(std::string_view environ, std::string_view name);

// Whitespace-separated pids, as in /proc/PID/task/TID/children.
std::vector<int> ParsePidList(std::string_view content);

}  // namespace weft::proc
