#include "symbolizer/elf/node_binary.h"

#include <gelf.h>

#include "absl/strings/str_cat.h"
#include "symbolizer/elf/elf_file.h"
#include "symbolizer/elf/elf_symbols.h"
#include "symbolizer/elf/x86_decode.h"

namespace weft::elf {
namespace {

// node::Start(int, char**): every Node.js build since 12 exports it (Bun and
// Deno do not, and their libuv, if any, is not Node's).
constexpr char kNodeStart[] = "_ZN4node5StartEiPPc";
constexpr char kFsAccess[] = "uv_fs_access";
constexpr char kSignalTree[] = "uv__signal_tree";

}  // namespace

absl::StatusOr<NodeBinary> ReadNodeBinary(const std::filesystem::path& path) {
  absl::StatusOr<ElfFile> elf = ElfFile::Open(path);
  if (!elf.ok()) return elf.status();
  GElf_Ehdr header;
  if (gelf_getehdr(elf->get(), &header) == nullptr) {
    return absl::InvalidArgumentError(absl::StrCat(path.string(), ": no ELF header"));
  }
  auto functions = FunctionFileOffsets(path, {kNodeStart, kFsAccess});
  if (!functions.ok()) return functions.status();
  if (!functions->count(kNodeStart) || !functions->count(kFsAccess)) {
    return absl::NotFoundError(absl::StrCat(path.string(), " is not a Node.js executable"));
  }
  if (auto st = RequireX86_64(elf->get(), path, "Node.js request links"); !st.ok()) return st;

  NodeBinary node;
  node.fs_access_offset = functions->at(kFsAccess);
  node.probe_offset = node.fs_access_offset;
  // The function's first bytes, read from the file at its offset.
  size_t size = 0;
  const char* image = elf_rawfile(elf->get(), &size);
  constexpr size_t kLook = 64;
  if (image != nullptr && node.fs_access_offset + kLook <= size) {
    const std::string_view code(image + node.fs_access_offset, kLook);
    if (auto site = FirstBranchKeeping(code, node.fs_access_offset, KeptRegister::kRdx)) {
      node.probe_offset = *site;
    }
  }
  node.position_independent = header.e_type == ET_DYN;
  size_t count = 0;
  if (elf_getphdrnum(elf->get(), &count) == 0) {
    for (size_t i = 0; i < count; ++i) {
      GElf_Phdr segment;
      if (gelf_getphdr(elf->get(), static_cast<int>(i), &segment) == nullptr) continue;
      if (segment.p_type == PT_LOAD && segment.p_offset == 0) {
        node.first_segment_vaddr = segment.p_vaddr;
        break;
      }
    }
  }
  auto data = SymbolAddresses(path, {kSignalTree});
  if (data.ok() && data->count(kSignalTree)) node.signal_tree_vaddr = data->at(kSignalTree);
  return node;
}

}  // namespace weft::elf
