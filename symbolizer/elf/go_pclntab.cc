#include "symbolizer/elf/go_pclntab.h"

#include <algorithm>
#include <cstring>

#include "absl/strings/str_cat.h"

namespace weft::elf {
namespace {

constexpr uint32_t kGo118Magic = 0xfffffff0;
constexpr uint32_t kGo120Magic = 0xfffffff1;
// magic(4) pad(2) minLC(1) ptrSize(1), then eight pointer-sized words.
constexpr size_t kHeaderWords = 8;

// Little-endian reads that return false instead of running off the end.
bool ReadUint(std::string_view bytes, uint64_t offset, size_t width, uint64_t* out) {
  if (offset > bytes.size() || bytes.size() - offset < width) return false;
  uint64_t value = 0;
  for (size_t i = 0; i < width; ++i) {
    value |= uint64_t(static_cast<uint8_t>(bytes[offset + i])) << (8 * i);
  }
  *out = value;
  return true;
}

}  // namespace

absl::StatusOr<std::map<std::string, GoFunction>> GoPclntabFunctions(
    std::string_view pclntab, const std::vector<std::string>& names) {
  uint64_t magic = 0;
  if (!ReadUint(pclntab, 0, 4, &magic) || (magic != kGo118Magic && magic != kGo120Magic)) {
    return absl::UnimplementedError(absl::StrCat(
        "unsupported .gopclntab (magic 0x", absl::Hex(magic), "): Go 1.18 or later is needed"));
  }
  const size_t pointer = static_cast<uint8_t>(pclntab.size() > 7 ? pclntab[7] : 0);
  if (pointer != 8 && pointer != 4) {
    return absl::InvalidArgumentError("bad .gopclntab pointer size");
  }
  uint64_t words[kHeaderWords] = {};
  for (size_t i = 0; i < kHeaderWords; ++i) {
    if (!ReadUint(pclntab, 8 + i * pointer, pointer, &words[i])) {
      return absl::InvalidArgumentError("truncated .gopclntab header");
    }
  }
  const uint64_t function_count = words[0];
  const uint64_t text_start = words[2];
  const uint64_t name_table = words[3];
  const uint64_t function_table = words[7];

  std::map<std::string, GoFunction> found;
  // (entry offset, _func offset) pairs, plus one closing entry offset.
  for (uint64_t i = 0; i < function_count && found.size() < names.size(); ++i) {
    uint64_t entry = 0, func = 0, next_entry = 0, name_offset = 0;
    if (!ReadUint(pclntab, function_table + i * 8, 4, &entry) ||
        !ReadUint(pclntab, function_table + i * 8 + 4, 4, &func) ||
        !ReadUint(pclntab, function_table + (i + 1) * 8, 4, &next_entry) ||
        !ReadUint(pclntab, function_table + func + 4, 4, &name_offset)) {
      return absl::InvalidArgumentError("truncated .gopclntab function table");
    }
    const uint64_t name_at = name_table + name_offset;
    if (name_at >= pclntab.size()) continue;
    const size_t name_end = pclntab.find('\0', name_at);
    if (name_end == std::string_view::npos) continue;
    std::string_view name = pclntab.substr(name_at, name_end - name_at);
    if (std::find(names.begin(), names.end(), name) == names.end()) continue;
    GoFunction function;
    function.address = text_start + entry;
    function.size = next_entry > entry ? next_entry - entry : 0;
    found.emplace(std::string(name), function);
  }
  return found;
}

}  // namespace weft::elf
