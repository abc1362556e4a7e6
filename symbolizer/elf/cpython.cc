#include "symbolizer/elf/cpython.h"

#include <gelf.h>
#include <libelf.h>

#include <cstring>
#include <vector>

#include "absl/strings/str_cat.h"
#include "symbolizer/elf/elf_file.h"
#include "symbolizer/elf/go_probe_sites.h"
#include "symbolizer/elf/x86_decode.h"

namespace weft::elf {
namespace {

struct DynamicSymbol {
  uint64_t vaddr = 0;
  uint64_t size = 0;
  uint8_t type = STT_NOTYPE;
};

// Defined .dynsym entries among `names` (exported symbols: what a stripped
// distribution interpreter still has).
std::vector<std::optional<DynamicSymbol>> LookUpDynamic(Elf* elf,
                                                        const std::vector<const char*>& names) {
  std::vector<std::optional<DynamicSymbol>> found(names.size());
  for (Elf_Scn* section = elf_nextscn(elf, nullptr); section != nullptr;
       section = elf_nextscn(elf, section)) {
    GElf_Shdr header;
    if (gelf_getshdr(section, &header) == nullptr || header.sh_type != SHT_DYNSYM) continue;
    if (header.sh_entsize == 0) continue;
    Elf_Data* data = elf_getdata(section, nullptr);
    if (data == nullptr) continue;
    const size_t count = header.sh_size / header.sh_entsize;
    for (size_t i = 0; i < count; ++i) {
      GElf_Sym symbol;
      if (gelf_getsym(data, static_cast<int>(i), &symbol) == nullptr) continue;
      if (symbol.st_shndx == SHN_UNDEF || symbol.st_value == 0) continue;
      const char* name = elf_strptr(elf, header.sh_link, symbol.st_name);
      if (name == nullptr) continue;
      for (size_t n = 0; n < names.size(); ++n) {
        if (!found[n] && std::strcmp(name, names[n]) == 0) {
          found[n] = DynamicSymbol{symbol.st_value, symbol.st_size,
                                   static_cast<uint8_t>(GELF_ST_TYPE(symbol.st_info))};
        }
      }
    }
  }
  return found;
}

// The GOT slot the dynamic linker fills with `symbol`'s address.
std::optional<uint64_t> GotSlotOf(Elf* elf, std::string_view symbol) {
  auto relocations = FindElfSection(elf, ".rela.plt");
  if (!relocations || relocations->header.sh_type != SHT_RELA) return std::nullopt;
  Elf_Scn* symbols_section = elf_getscn(elf, relocations->header.sh_link);
  GElf_Shdr symbols_header;
  if (symbols_section == nullptr || gelf_getshdr(symbols_section, &symbols_header) == nullptr) {
    return std::nullopt;
  }
  Elf_Data* symbols = elf_getdata(symbols_section, nullptr);
  if (symbols == nullptr || relocations->header.sh_entsize == 0) return std::nullopt;
  const size_t count = relocations->header.sh_size / relocations->header.sh_entsize;
  for (size_t i = 0; i < count; ++i) {
    GElf_Rela rela;
    GElf_Sym sym;
    if (gelf_getrela(relocations->data, static_cast<int>(i), &rela) == nullptr) continue;
    if (gelf_getsym(symbols, static_cast<int>(GELF_R_SYM(rela.r_info)), &sym) == nullptr) continue;
    const char* name = elf_strptr(elf, symbols_header.sh_link, sym.st_name);
    if (name != nullptr && symbol == name) return rela.r_offset;
  }
  return std::nullopt;
}

// The PLT entry whose `jmp *slot(%rip)` goes through `got_slot`: the address
// calls to the symbol target. Entries are 16 bytes in .plt and .plt.sec.
std::optional<uint64_t> PltEntryOf(Elf* elf, uint64_t got_slot) {
  for (const char* name : {".plt.sec", ".plt"}) {
    auto plt = FindElfSection(elf, name);
    if (!plt) continue;
    std::string_view code = SectionBytes(*plt);
    for (size_t i = 0; i + 6 <= code.size(); ++i) {
      if (static_cast<uint8_t>(code[i]) != 0xff || static_cast<uint8_t>(code[i + 1]) != 0x25) {
        continue;
      }
      int32_t displacement = 0;
      std::memcpy(&displacement, code.data() + i + 2, sizeof(displacement));
      const uint64_t next = plt->header.sh_addr + i + 6;
      if (next + static_cast<int64_t>(displacement) == got_slot) {
        return plt->header.sh_addr + (i & ~static_cast<size_t>(15));
      }
    }
  }
  return std::nullopt;
}

std::string_view FileName(std::string_view path) {
  const size_t slash = path.rfind('/');
  return path.substr(slash == std::string_view::npos ? 0 : slash + 1);
}

}  // namespace

bool IsAsyncioModuleName(std::string_view path) {
  const std::string_view name = FileName(path);
  return name.starts_with("_asyncio.") && name.ends_with(".so");
}

bool IsLibpythonName(std::string_view path) { return FileName(path).starts_with("libpython3"); }

absl::StatusOr<std::vector<uint64_t>> FindContextCopySites(const std::filesystem::path& path) {
  absl::StatusOr<ElfFile> file = ElfFile::Open(path);
  if (!file.ok()) return file.status();
  Elf* elf = file->get();
  if (auto st = RequireX86_64(elf, path, "asyncio context probes"); !st.ok()) return st;
  std::vector<uint64_t> returns;
  auto slot = GotSlotOf(elf, "PyContext_CopyCurrent");
  if (!slot) return returns;
  auto entry = PltEntryOf(elf, *slot);
  auto text = FindElfSection(elf, ".text");
  if (!entry || !text) return returns;
  constexpr size_t kCallLength = 5;
  const std::string_view code = SectionBytes(*text);
  const uint64_t text_address = text->header.sh_addr;
  const uint64_t text_offset = text->header.sh_offset;
  for (uint64_t call : CallOffsets(code, text_address, text_offset, *entry)) {
    // Not the return address itself (a single-stepped probe), but the first
    // branch after it that still sees the copy in RAX (an emulated one).
    const uint64_t after = call + kCallLength - text_offset;
    if (after >= code.size()) continue;
    auto site = FirstBranchKeepingRax(code.substr(after), text_address + after);
    if (site) returns.push_back(*site - text_address + text_offset);
  }
  return returns;
}

std::optional<CPythonOffsets> CPythonOffsetsFor(int major, int minor) {
  // From CPython 3.11's Include/internal/pycore_runtime.h, pycore_interp.h and
  // Include/cpython/pystate.h on LP64; tests/unit/symbolizer checks them
  // against the installed headers when python3.11-dev is present.
  if (major == 3 && minor == 11) {
    return CPythonOffsets{.interpreters_head = 40,
                          .tstate_current = 576,
                          .threads_head = 16,
                          .tstate_next = 8,
                          .tstate_native_tid = 160,
                          .tstate_context = 224};
  }
  return std::nullopt;
}

std::string CPythonBinary::version() const { return absl::StrCat(major, ".", minor, ".", micro); }

void DecodePyVersionHex(uint32_t hex, CPythonBinary* binary) {
  binary->major = static_cast<int>((hex >> 24) & 0xff);
  binary->minor = static_cast<int>((hex >> 16) & 0xff);
  binary->micro = static_cast<int>((hex >> 8) & 0xff);
}

absl::StatusOr<CPythonBinary> ReadCPythonBinary(const std::filesystem::path& path) {
  absl::StatusOr<ElfFile> elf = ElfFile::Open(path);
  if (!elf.ok()) return elf.status();
  const auto symbols =
      LookUpDynamic(elf->get(), {"_PyRuntime", "PyContext_CopyCurrent", "Py_Version"});
  const auto& runtime = symbols[0];
  const auto& copy_context = symbols[1];
  const auto& version = symbols[2];
  if (!runtime || !copy_context || !version) {
    return absl::NotFoundError(absl::StrCat(path.string(),
                                            " is not a CPython >= 3.11 interpreter"
                                            " (no _PyRuntime, PyContext_CopyCurrent"
                                            " or Py_Version exported)"));
  }
  CPythonBinary binary;
  binary.runtime_vaddr = runtime->vaddr;
  auto runtime_offset = VirtualToFileOffset(elf->get(), runtime->vaddr);
  auto copy_offset = VirtualToFileOffset(elf->get(), copy_context->vaddr);
  auto version_offset = VirtualToFileOffset(elf->get(), version->vaddr);
  if (!runtime_offset || !copy_offset || !version_offset || copy_context->type != STT_FUNC) {
    return absl::InvalidArgumentError(
        absl::StrCat(path.string(), ": CPython symbols outside its loadable segments"));
  }
  binary.runtime_file_offset = *runtime_offset;
  binary.copy_context_offset = *copy_offset;

  size_t file_size = 0;
  const char* bytes = elf_rawfile(elf->get(), &file_size);
  if (bytes == nullptr || *version_offset + sizeof(uint32_t) > file_size) {
    return absl::InvalidArgumentError(absl::StrCat(path.string(), ": cannot read Py_Version"));
  }
  uint32_t hex = 0;
  std::memcpy(&hex, bytes + *version_offset, sizeof(hex));
  DecodePyVersionHex(hex, &binary);
  return binary;
}

}  // namespace weft::elf
