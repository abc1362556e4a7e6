#include "symbolizer/proc/proc_parse.h"

#include <charconv>

#include <fmt/format.h>

namespace weft::proc {
namespace {

// Debian's abseil keeps its own string_view type, distinct from std's, so
// these parsers stay on the standard library.
std::vector<std::string_view> SplitAny(std::string_view text, std::string_view separators) {
  std::vector<std::string_view> parts;
  size_t start = text.find_first_not_of(separators);
  while (start != std::string_view::npos) {
    const size_t end = text.find_first_of(separators, start);
    parts.push_back(text.substr(start, end == std::string_view::npos ? end : end - start));
    if (end == std::string_view::npos) break;
    start = text.find_first_not_of(separators, end);
  }
  return parts;
}

std::string_view Trim(std::string_view text) {
  const size_t first = text.find_first_not_of(" \t\n");
  if (first == std::string_view::npos) return {};
  return text.substr(first, text.find_last_not_of(" \t\n") - first + 1);
}

template <typename Integer>
bool ParseInteger(std::string_view text, Integer* out) {
  text = Trim(text);
  if (text.empty()) return false;
  const char* end = text.data() + text.size();
  auto [stopped, error] = std::from_chars(text.data(), end, *out);
  return error == std::errc() && stopped == end;
}

}  // namespace

absl::StatusOr<StatFields> ParseStat(std::string_view content) {
  const size_t open = content.find('(');
  const size_t close = content.rfind(')');
  if (open == std::string_view::npos || close == std::string_view::npos || close < open) {
    return absl::InvalidArgumentError("stat: no parenthesised comm field");
  }
  StatFields fields;
  if (!ParseInteger(content.substr(0, open), &fields.pid)) {
    return absl::InvalidArgumentError("stat: bad pid field");
  }
  fields.comm = std::string(content.substr(open + 1, close - open - 1));

  // Fields after the comm, numbered from 3 (state) as in proc(5).
  const std::vector<std::string_view> rest = SplitAny(content.substr(close + 1), " \n");
  constexpr size_t kFirstField = 3;
  constexpr size_t kParentPidField = 4;
  constexpr size_t kStartTimeField = 22;
  if (rest.size() < kStartTimeField - kFirstField + 1) {
    return absl::InvalidArgumentError(
        fmt::format("stat: only {} fields, need 22", rest.size() + kFirstField - 1));
  }
  fields.state = rest[0][0];
  if (!ParseInteger(rest[kParentPidField - kFirstField], &fields.parent_pid)) {
    return absl::InvalidArgumentError("stat: bad ppid field");
  }
  if (!ParseInteger(rest[kStartTimeField - kFirstField], &fields.start_time_ticks)) {
    return absl::InvalidArgumentError("stat: bad starttime field");
  }
  return fields;
}

absl::StatusOr<uint32_t> ParseStatusUid(std::string_view content) {
  for (std::string_view line : SplitAny(content, "\n")) {
    constexpr std::string_view kUidPrefix = "Uid:";
    if (!line.starts_with(kUidPrefix)) continue;
    const std::vector<std::string_view> ids = SplitAny(line.substr(kUidPrefix.size()), " \t");
    uint32_t uid = 0;
    if (ids.empty() || !ParseInteger(ids[0], &uid)) {
      return absl::InvalidArgumentError("status: bad Uid line");
    }
    return uid;
  }
  return absl::InvalidArgumentError("status: no Uid line");
}

std::vector<std::string> SplitNul(std::string_view content) {
  std::vector<std::string> parts;
  while (!content.empty()) {
    const size_t end = content.find('\0');
    if (end == std::string_view::npos) {
      parts.emplace_back(content);
      break;
    }
    parts.emplace_back(content.substr(0, end));
    content.remove_prefix(end + 1);
  }
  return parts;
}

std::optional<std::string> FindEnvironValue(std::string_view environ, std::string_view name) {
  while (!environ.empty()) {
    const size_t end = environ.find('\0');
    const std::string_view entry = environ.substr(0, end);
    if (entry.size() > name.size() && entry.starts_with(name) && entry[name.size()] == '=') {
      return std::string(entry.substr(name.size() + 1));
    }
    if (end == std::string_view::npos) break;
    environ.remove_prefix(end + 1);
  }
  return std::nullopt;
}

std::vector<int> ParsePidList(std::string_view content) {
  std::vector<int> pids;
  for (std::string_view token : SplitAny(content, " \t\n")) {
    int pid = 0;
    if (ParseInteger(token, &pid) && pid > 0) pids.push_back(pid);
  }
  return pids;
}

}  // namespace weft::proc
