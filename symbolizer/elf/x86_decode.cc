#include "symbolizer/elf/x86_decode.h"

#include <capstone.h>

#include <memory>

namespace weft::elf {
namespace {

struct Disassembler {
  csh handle = 0;
  bool open = false;
  Disassembler() {
    open = cs_open(CS_ARCH_X86, CS_MODE_64, &handle) == CS_ERR_OK;
    if (open) cs_option(handle, CS_OPT_DETAIL, CS_OPT_ON);
  }
  ~Disassembler() {
    if (open) cs_close(&handle);
  }
  Disassembler(const Disassembler&) = delete;
  Disassembler& operator=(const Disassembler&) = delete;
};

struct InstructionDeleter {
  size_t count = 0;
  void operator()(cs_insn* insn) const { cs_free(insn, count); }
};

bool IsKept(x86_reg reg, KeptRegister kept) {
  switch (kept) {
    case KeptRegister::kRax:
      return reg == X86_REG_RAX || reg == X86_REG_EAX || reg == X86_REG_AX || reg == X86_REG_AL ||
             reg == X86_REG_AH;
    case KeptRegister::kRdx:
      return reg == X86_REG_RDX || reg == X86_REG_EDX || reg == X86_REG_DX || reg == X86_REG_DL ||
             reg == X86_REG_DH;
  }
  return true;
}

bool WritesKept(csh handle, const cs_insn* insn, KeptRegister kept) {
  cs_regs read{};
  cs_regs written{};
  uint8_t read_count = 0;
  uint8_t written_count = 0;
  if (cs_regs_access(handle, insn, read, &read_count, written, &written_count) != CS_ERR_OK) {
    return true;  // unknown: assume the worst
  }
  for (uint8_t i = 0; i < written_count; ++i) {
    if (IsKept(static_cast<x86_reg>(written[i]), kept)) return true;
  }
  return false;
}

bool IsRelativeBranch(csh handle, const cs_insn* insn) {
  const bool branch =
      cs_insn_group(handle, insn, CS_GRP_JUMP) || cs_insn_group(handle, insn, CS_GRP_CALL);
  if (!branch || insn->detail == nullptr) return false;
  const cs_x86& x86 = insn->detail->x86;
  return x86.op_count == 1 && x86.operands[0].type == X86_OP_IMM;
}

}  // namespace

std::optional<uint64_t> FirstBranchKeeping(std::string_view code, uint64_t address,
                                           KeptRegister kept, int max_instructions) {
  Disassembler disassembler;
  if (!disassembler.open) return std::nullopt;
  cs_insn* raw = nullptr;
  const size_t count = cs_disasm(disassembler.handle, reinterpret_cast<const uint8_t*>(code.data()),
                                 code.size(), address, static_cast<size_t>(max_instructions), &raw);
  std::unique_ptr<cs_insn, InstructionDeleter> instructions(raw, InstructionDeleter{count});
  for (size_t i = 0; i < count; ++i) {
    const cs_insn* insn = &raw[i];
    if (IsRelativeBranch(disassembler.handle, insn)) return insn->address;
    // Control leaves the straight line some other way (ret, indirect jump).
    if (cs_insn_group(disassembler.handle, insn, CS_GRP_JUMP) ||
        cs_insn_group(disassembler.handle, insn, CS_GRP_CALL) ||
        cs_insn_group(disassembler.handle, insn, CS_GRP_RET) ||
        WritesKept(disassembler.handle, insn, kept)) {
      return std::nullopt;
    }
  }
  return std::nullopt;
}

}  // namespace weft::elf
