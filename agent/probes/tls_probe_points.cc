#include "agent/probes/tls_probe_points.h"

#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>

#include "absl/strings/str_cat.h"

namespace weft {
namespace {

// Wrappers make their internal call within a few instructions.
constexpr size_t kWrapperScanBytes = 64;
constexpr size_t kPrologueBytes = 8;

bool IsRegisterPush(const uint8_t* p, size_t n) {
  if (n >= 1 && p[0] >= 0x50 && p[0] <= 0x57) return true;        // push %rax..%rdi
  return n >= 2 && p[0] == 0x41 && p[1] >= 0x50 && p[1] <= 0x57;  // push %r8..%r15
}

bool IsEndbr64(const uint8_t* p, size_t n) {
  return n >= 4 && p[0] == 0xf3 && p[1] == 0x0f && p[2] == 0x1e && p[3] == 0xfa;
}

absl::StatusOr<CodeBytes> ReadCode(int fd, const std::string& path, uint64_t offset, size_t n) {
  CodeBytes code;
  code.offset = offset;
  code.bytes.resize(n);
  ssize_t got = pread(fd, code.bytes.data(), n, static_cast<off_t>(offset));
  if (got < 0) {
    return absl::InternalError(absl::StrCat("reading ", path, ": ", std::strerror(errno)));
  }
  code.bytes.resize(static_cast<size_t>(got));
  return code;
}

struct Fd {
  int fd = -1;
  ~Fd() {
    if (fd >= 0) close(fd);
  }
};

}  // namespace

std::vector<uint64_t> CallTargets(const CodeBytes& code) {
  std::vector<uint64_t> targets;
  const std::vector<uint8_t>& b = code.bytes;
  for (size_t i = 0; i + 5 <= b.size(); ++i) {
    if (b[i] != 0xe8) continue;
    int32_t rel = 0;
    std::memcpy(&rel, &b[i + 1], sizeof(rel));
    int64_t target = static_cast<int64_t>(code.offset + i + 5) + rel;
    if (target >= 0) targets.push_back(static_cast<uint64_t>(target));
  }
  return targets;
}

std::optional<uint64_t> CommonFirstCallee(const CodeBytes& ex_wrapper,
                                          const CodeBytes& plain_wrapper) {
  std::vector<uint64_t> ex_targets = CallTargets(ex_wrapper);
  std::vector<uint64_t> plain_targets = CallTargets(plain_wrapper);
  if (ex_targets.empty()) return std::nullopt;
  uint64_t first = ex_targets.front();
  if (std::find(plain_targets.begin(), plain_targets.end(), first) == plain_targets.end()) {
    return std::nullopt;
  }
  return first;
}

std::optional<uint64_t> PrologueProbeOffset(const CodeBytes& entry) {
  const uint8_t* p = entry.bytes.data();
  size_t n = entry.bytes.size();
  if (IsRegisterPush(p, n)) return entry.offset;
  if (IsEndbr64(p, n) && IsRegisterPush(p + 4, n - 4)) return entry.offset + 4;
  return std::nullopt;
}

absl::StatusOr<std::vector<SslProbePoint>> FindSslProbePoints(
    const std::string& path, const std::map<std::string, uint64_t>& symbol_offsets) {
  Fd file{open(path.c_str(), O_RDONLY | O_CLOEXEC)};
  if (file.fd < 0) {
    return absl::NotFoundError(absl::StrCat("opening ", path, ": ", std::strerror(errno)));
  }
  struct Direction {
    const char* plain;
    const char* ex;
    const char* internal;
    SslCallKind plain_kind;
    SslCallKind ex_kind;
  };
  const Direction directions[] = {
      {"SSL_read", "SSL_read_ex", "ssl_read_internal", SslCallKind::kRead, SslCallKind::kReadEx},
      {"SSL_write", "SSL_write_ex", "ssl_write_internal", SslCallKind::kWrite,
       SslCallKind::kWriteEx},
  };
  std::vector<SslProbePoint> points;
  for (const Direction& d : directions) {
    auto plain = symbol_offsets.find(d.plain);
    auto ex = symbol_offsets.find(d.ex);
    if (plain != symbol_offsets.end() && ex != symbol_offsets.end()) {
      auto plain_code = ReadCode(file.fd, path, plain->second, kWrapperScanBytes);
      if (!plain_code.ok()) return plain_code.status();
      auto ex_code = ReadCode(file.fd, path, ex->second, kWrapperScanBytes);
      if (!ex_code.ok()) return ex_code.status();
      if (auto callee = CommonFirstCallee(*ex_code, *plain_code)) {
        auto callee_code = ReadCode(file.fd, path, *callee, kPrologueBytes);
        if (!callee_code.ok()) return callee_code.status();
        if (auto offset = PrologueProbeOffset(*callee_code)) {
          points.push_back({absl::StrCat(d.internal, " (called by ", d.plain, " and ", d.ex, ")"),
                            *offset, d.ex_kind});
          continue;
        }
      }
    }
    // No shared internal function: each public wrapper, past an endbr64
    // where that lands on an emulated push.
    for (auto [name, kind] : {std::pair{d.plain, d.plain_kind}, std::pair{d.ex, d.ex_kind}}) {
      auto symbol = symbol_offsets.find(name);
      if (symbol == symbol_offsets.end()) continue;
      uint64_t offset = symbol->second;
      auto code = ReadCode(file.fd, path, offset, kPrologueBytes);
      if (!code.ok()) return code.status();
      points.push_back({name, PrologueProbeOffset(*code).value_or(offset), kind});
    }
  }
  return points;
}

}  // namespace weft
