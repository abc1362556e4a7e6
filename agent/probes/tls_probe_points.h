// Where in a libssl file the TLS uprobes go (docs/tls.md, "Probe points").
//
// A uprobe hit costs one breakpoint trap; if the probed instruction is one
// the kernel cannot emulate, it also costs a single-step trap, which on
// virtual machines is several times dearer (about 25 µs against 6 µs per
// call on the bench machine). OpenSSL 1.1.1 and 3.x implement SSL_read,
// SSL_read_ex, SSL_write and SSL_write_ex as thin wrappers over two internal
// functions with the _ex signature, (SSL *, void *buf, size_t num,
// size_t *bytes) returning > 0 on success; those begin with register pushes,
// which the kernel emulates. When both wrappers of a direction call the same
// function first, that function is probed instead of the four wrappers.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "absl/status/statusor.h"

namespace weft {

enum class SslCallKind {
  kRead,     // int SSL_read(SSL *, void *, int): returns the byte count
  kReadEx,   // _ex convention: returns > 0 on success, count through arg 4
  kWrite,    // int SSL_write(SSL *, const void *, int)
  kWriteEx,  // _ex convention
};

struct SslProbePoint {
  std::string name;     // for messages: "SSL_read", "ssl_read_internal (via SSL_read_ex)"
  uint64_t offset = 0;  // file offset of the probed instruction
  SslCallKind kind = SslCallKind::kRead;
};

// Bytes of a file at a file offset, for the analysis below.
struct CodeBytes {
  uint64_t offset = 0;
  std::vector<uint8_t> bytes;
};

// The target (file offset) of every `call rel32` (e8) whose opcode byte lies
// in `code`, in order. Not a disassembler: a byte scan whose candidates are
// cross-checked by CommonFirstCallee.
std::vector<uint64_t> CallTargets(const CodeBytes& code);

// The first call target of `ex_wrapper` that `plain_wrapper` calls too: the
// shared internal function, or nothing.
std::optional<uint64_t> CommonFirstCallee(const CodeBytes& ex_wrapper,
                                          const CodeBytes& plain_wrapper);

// The offset to probe for a function starting with `entry`: past an endbr64
// when a register push follows (the push is emulated, endbr64 may not be);
// nothing when the code does not start like a function prologue the probe
// can stand on (a push, possibly after endbr64).
std::optional<uint64_t> PrologueProbeOffset(const CodeBytes& entry);

// The probe points of one libssl file, from the file offsets of its SSL_*
// symbols: the two internal functions when found, else the public ones.
absl::StatusOr<std::vector<SslProbePoint>> FindSslProbePoints(
    const std::string& path, const std::map<std::string, uint64_t>& symbol_offsets);

}  // namespace weft
