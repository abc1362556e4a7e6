#include "symbolizer/proc/maps.h"

#include <sys/stat.h>
#include <sys/sysmacros.h>

#include <charconv>
#include <fstream>
#include <set>
#include <sstream>
#include <string>

namespace weft::proc {
namespace {

bool ParseHex(std::string_view text, uint64_t* out) {
  auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), *out, 16);
  return ec == std::errc() && end == text.data() + text.size() && !text.empty();
}

bool ParseDecimal(std::string_view text, uint64_t* out) {
  auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), *out, 10);
  return ec == std::errc() && end == text.data() + text.size() && !text.empty();
}

// Splits off the next space-delimited field, skipping leading spaces.
std::string_view NextField(std::string_view* rest) {
  size_t begin = rest->find_first_not_of(' ');
  if (begin == std::string_view::npos) {
    *rest = {};
    return {};
  }
  rest->remove_prefix(begin);
  size_t end = rest->find(' ');
  std::string_view field = rest->substr(0, end);
  rest->remove_prefix(end == std::string_view::npos ? rest->size() : end);
  return field;
}

}  // namespace

std::vector<Mapping> ParseMaps(std::string_view content) {
  std::vector<Mapping> out;
  while (!content.empty()) {
    size_t newline = content.find('\n');
    std::string_view line = content.substr(0, newline);
    content.remove_prefix(newline == std::string_view::npos ? content.size() : newline + 1);
    if (line.empty()) continue;
    std::string_view rest = line;
    std::string_view range = NextField(&rest);
    std::string_view perms = NextField(&rest);
    std::string_view offset = NextField(&rest);
    std::string_view dev = NextField(&rest);
    std::string_view inode = NextField(&rest);
    size_t dash = range.find('-');
    size_t colon = dev.find(':');
    if (dash == std::string_view::npos || colon == std::string_view::npos) continue;
    Mapping m;
    uint64_t major = 0, minor = 0;
    if (!ParseHex(range.substr(0, dash), &m.start) || !ParseHex(range.substr(dash + 1), &m.end) ||
        !ParseHex(offset, &m.offset) || !ParseHex(dev.substr(0, colon), &major) ||
        !ParseHex(dev.substr(colon + 1), &minor) || !ParseDecimal(inode, &m.file.inode)) {
      continue;
    }
    m.perms = std::string(perms);
    m.file.dev_major = static_cast<uint32_t>(major);
    m.file.dev_minor = static_cast<uint32_t>(minor);
    size_t path_begin = rest.find_first_not_of(' ');
    if (path_begin != std::string_view::npos) m.path = std::string(rest.substr(path_begin));
    out.push_back(std::move(m));
  }
  return out;
}

bool IsLibsslName(std::string_view path) {
  size_t slash = path.rfind('/');
  std::string_view name = slash == std::string_view::npos ? path : path.substr(slash + 1);
  return name == "libssl.so" || name.starts_with("libssl.so.");
}

std::vector<Mapping> FindLibssl(const std::vector<Mapping>& mappings) {
  std::vector<Mapping> out;
  std::set<FileId> seen;
  for (const Mapping& m : mappings) {
    if (m.file.inode == 0 || std::string_view(m.path).ends_with(" (deleted)")) continue;
    if (!IsLibsslName(m.path)) continue;
    if (!seen.insert(m.file).second) continue;
    out.push_back(m);
  }
  return out;
}

std::vector<Mapping> ReadMaps(int pid) {
  std::ifstream in("/proc/" + std::to_string(pid) + "/maps");
  if (!in) return {};
  std::stringstream content;
  content << in.rdbuf();
  return ParseMaps(content.str());
}

std::optional<FileId> StatFileId(const std::string& path) {
  struct stat st {};
  if (stat(path.c_str(), &st) != 0) return std::nullopt;
  return FileId{major(st.st_dev), minor(st.st_dev), st.st_ino};
}

}  // namespace weft::proc
