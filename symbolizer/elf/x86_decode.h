// x86-64 instruction decoding (Debian's capstone) for choosing uprobe sites
// the kernel emulates: on a relative branch or call a uprobe costs one trap;
// on most other instructions it also single-steps a copy (about 30 us a hit
// in a VM, measured with the asyncio probes).
#pragma once

#include <cstdint>
#include <optional>
#include <string_view>

namespace weft::elf {

// A general-purpose register whose value a probe site must keep.
enum class KeptRegister {
  kRax,  // a return value, right after a call
  kRdx,  // the third argument, at a function's start
};

// Starting at `address` (the bytes `code`), the first relative jump,
// conditional jump or relative call reached through straight-line code that
// leaves `kept` as it was: a site where that register still holds the value
// it had at `address`. Looks at most `max_instructions`; nothing when the
// register is written, the code is not decodable or ends first.
std::optional<uint64_t> FirstBranchKeeping(std::string_view code, uint64_t address,
                                           KeptRegister kept, int max_instructions = 8);

inline std::optional<uint64_t> FirstBranchKeepingRax(std::string_view code, uint64_t address,
                                                     int max_instructions = 8) {
  return FirstBranchKeeping(code, address, KeptRegister::kRax, max_instructions);
}

}  // namespace weft::elf
