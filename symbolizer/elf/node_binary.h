// What weft needs from a Node.js executable (or libnode) to link its
// requests (bpf/node_async.h): where libuv's uv_fs_access starts, which the
// injected hook's messages go through, and where libuv keeps its signal
// watchers, which tell whether the program listens for SIGUSR1 itself.
#pragma once

#include <cstdint>
#include <filesystem>
#include <optional>

#include "absl/status/statusor.h"

namespace weft::elf {

struct NodeBinary {
  // File offset of uv_fs_access's first instruction.
  uint64_t fs_access_offset = 0;
  // Where its uprobe goes: the first relative branch before anything writes
  // RDX (the path argument), which the kernel emulates in one trap; the
  // function's start (trap and single-step) when there is none. It traps
  // once per hook message.
  uint64_t probe_offset = 0;
  // Link-time address of libuv's uv__signal_tree (a static variable, in
  // .symtab only: nothing when the file is stripped).
  std::optional<uint64_t> signal_tree_vaddr;
  // ET_DYN (PIE or a shared libnode): addresses move by the load bias.
  bool position_independent = false;
  // p_vaddr of the loadable segment that starts at file offset 0: the load
  // bias is where that segment is mapped minus this.
  uint64_t first_segment_vaddr = 0;
};

// Reads the Node.js facts from `path`. NotFound when the file is ELF but not
// Node.js (no node::Start, or no statically linked uv_fs_access); other
// errors when it cannot be read or is not x86-64.
absl::StatusOr<NodeBinary> ReadNodeBinary(const std::filesystem::path& path);

}  // namespace weft::elf
