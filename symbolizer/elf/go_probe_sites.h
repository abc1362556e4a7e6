// Where weft's goroutine uprobes go in one Go executable (bpf/go_runtime.bpf.h),
// as file offsets (a uprobe names a file and an offset in it), and where the
// current goroutine's g pointer sits in thread-local storage.
#pragma once

#include <cstdint>
#include <filesystem>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/statusor.h"

namespace weft::elf {

// Every site is a `call rel32` instruction: the kernel emulates a call
// under a uprobe (one trap), where a probe on most other instructions also
// single-steps a copy of it (a second trap; tens of microseconds in a VM).
// At a call the callee's register arguments are already in place.
struct GoProbeSites {
  // In runtime.newproc.func1, `call runtime.newproc1`: RBX = creating g.
  std::optional<uint64_t> newproc1_call;
  // In runtime.newproc.func1, `call runtime.runqput`: RBX = the new g.
  std::optional<uint64_t> runqput_call;
  // In net/http.(*Transport).RoundTrip, `call (*Transport).roundTrip`: RBX = req.
  std::optional<uint64_t> round_trip_call;
  // In net/http.(*persistConn).writeLoop, `call (*Request).write`: RAX = req.
  std::optional<uint64_t> request_write_call;
  // FS base + this = address of the running g (linux/amd64).
  int64_t g_tls_offset = -8;
  // "symtab" or "pclntab" (stripped binary): where the functions were found.
  std::string symbols_from;

  // The handoff needs both net/http sites; ancestry needs both runtime sites.
  bool has_http_handoff() const { return round_trip_call && request_write_call; }
  bool has_goroutine_ancestry() const { return newproc1_call && runqput_call; }
};

// Finds the sites in an x86-64 Go executable, from .symtab when present,
// else from .gopclntab (Go >= 1.18, survives stripping). An error when the
// file is not a readable x86-64 ELF; absent sites are left empty (e.g. a
// program that does not use net/http's client).
absl::StatusOr<GoProbeSites> FindGoProbeSites(const std::filesystem::path& path);

// File offsets of every `call rel32` to `callee` (virtual address) in
// `code`, which starts at virtual address `code_address` and file offset
// `code_offset`. A byte pattern, not a decoding: callers accept exactly one
// match in a known function (a false match would need the four bytes after
// an 0xe8 to equal the displacement by chance).
std::vector<uint64_t> CallOffsets(std::string_view code, uint64_t code_address,
                                  uint64_t code_offset, uint64_t callee);

}  // namespace weft::elf
