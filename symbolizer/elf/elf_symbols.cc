#include "symbolizer/elf/elf_symbols.h"

#include <fcntl.h>
#include <gelf.h>
#include <libelf.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <memory>
#include <optional>

#include "absl/strings/str_cat.h"
#include "symbolizer/elf/elf_file.h"

namespace weft::elf {
namespace {

Elf_Scn* FindSymbolTable(Elf* elf, uint32_t type) {
  for (Elf_Scn* section = elf_nextscn(elf, nullptr); section != nullptr;
       section = elf_nextscn(elf, section)) {
    GElf_Shdr header;
    if (gelf_getshdr(section, &header) != nullptr && header.sh_type == type) return section;
  }
  return nullptr;
}

}  // namespace

absl::StatusOr<std::map<std::string, uint64_t>> FunctionFileOffsets(
    const std::filesystem::path& path, const std::vector<std::string>& names) {
  absl::StatusOr<ElfFile> elf = ElfFile::Open(path);
  if (!elf.ok()) return elf.status();
  Elf_Scn* table = FindSymbolTable(elf->get(), SHT_DYNSYM);
  if (table == nullptr) table = FindSymbolTable(elf->get(), SHT_SYMTAB);
  std::map<std::string, uint64_t> found;
  if (table == nullptr) return found;

  GElf_Shdr header;
  if (gelf_getshdr(table, &header) == nullptr || header.sh_entsize == 0) return found;
  Elf_Data* data = elf_getdata(table, nullptr);
  if (data == nullptr) return found;
  const size_t count = header.sh_size / header.sh_entsize;
  for (size_t i = 0; i < count && found.size() < names.size(); ++i) {
    GElf_Sym symbol;
    if (gelf_getsym(data, static_cast<int>(i), &symbol) == nullptr) continue;
    if (GELF_ST_TYPE(symbol.st_info) != STT_FUNC || symbol.st_shndx == SHN_UNDEF ||
        symbol.st_value == 0) {
      continue;
    }
    const char* name = elf_strptr(elf->get(), header.sh_link, symbol.st_name);
    if (name == nullptr) continue;
    if (std::find(names.begin(), names.end(), name) == names.end()) continue;
    if (found.count(name)) continue;  // several versions of one name: keep the first
    if (auto offset = VirtualToFileOffset(elf->get(), symbol.st_value)) found[name] = *offset;
  }
  return found;
}

absl::StatusOr<std::map<std::string, uint64_t>> SymbolAddresses(
    const std::filesystem::path& path, const std::vector<std::string>& names) {
  absl::StatusOr<ElfFile> elf = ElfFile::Open(path);
  if (!elf.ok()) return elf.status();
  std::map<std::string, uint64_t> found;
  for (uint32_t type : {SHT_SYMTAB, SHT_DYNSYM}) {
    Elf_Scn* table = FindSymbolTable(elf->get(), type);
    if (table == nullptr) continue;
    GElf_Shdr header;
    if (gelf_getshdr(table, &header) == nullptr || header.sh_entsize == 0) continue;
    Elf_Data* data = elf_getdata(table, nullptr);
    if (data == nullptr) continue;
    const size_t count = header.sh_size / header.sh_entsize;
    for (size_t i = 0; i < count && found.size() < names.size(); ++i) {
      GElf_Sym symbol;
      if (gelf_getsym(data, static_cast<int>(i), &symbol) == nullptr) continue;
      if (symbol.st_shndx == SHN_UNDEF || symbol.st_value == 0) continue;
      const char* name = elf_strptr(elf->get(), header.sh_link, symbol.st_name);
      if (name == nullptr || found.count(name)) continue;
      if (std::find(names.begin(), names.end(), name) == names.end()) continue;
      found[name] = symbol.st_value;
    }
  }
  return found;
}

}  // namespace weft::elf
