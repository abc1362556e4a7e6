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

struct GoProbeSites {
  // runtime.newproc1 entry: the creating goroutine (RBX).
  std::optional<uint64_t> newproc1;
  // The instruction after `call runtime.newproc1` in runtime.newproc.func1:
  // the created goroutine (RAX).
  std::optional<uint64_t> newproc1_returned;
  // net/http.(*Transport).roundTrip entry (RBX = req).
  std::optional<uint64_t> round_trip;
  // net/http.(*Request).write entry (RAX = req).
  std::optional<uint64_t> request_write;
  // FS base + this = address of the running g (linux/amd64).
  int64_t g_tls_offset = -8;
  // "symtab" or "pclntab" (stripped binary): where the functions were found.
  std::string symbols_from;

  // The handoff needs both net/http sites; ancestry needs both runtime sites.
  bool has_http_handoff() const { return round_trip && request_write; }
  bool has_goroutine_ancestry() const { return newproc1 && newproc1_returned; }
};

// Finds the sites in an x86-64 Go executable, from .symtab when present,
// else from .gopclntab (Go >= 1.18, survives stripping). An error when the
// file is not a readable x86-64 ELF; absent sites are left empty (e.g. a
// program that does not use net/http's client).
absl::StatusOr<GoProbeSites> FindGoProbeSites(const std::filesystem::path& path);

// File offsets just after every `call rel32` to `callee` (virtual address)
// in `code`, which starts at virtual address `code_address` and file offset
// `code_offset`. A return address is an instruction boundary whatever the
// decoding, so it is a safe place for a uprobe.
std::vector<uint64_t> CallReturnOffsets(std::string_view code, uint64_t code_address,
                                        uint64_t code_offset, uint64_t callee);

}  // namespace weft::elf
