#include "symbolizer/elf/go_binary.h"

#include <fcntl.h>
#include <gelf.h>
#include <libelf.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <memory>
#include <string_view>

#include "absl/strings/str_cat.h"
#include "symbolizer/elf/elf_file.h"

namespace weft::elf {
namespace {

constexpr std::string_view kGoBuildInfoSection = ".go.buildinfo";

}  // namespace

absl::StatusOr<bool> IsGoBinary(const std::filesystem::path& path) {
  absl::StatusOr<ElfFile> elf = ElfFile::Open(path);
  if (!elf.ok()) return elf.status();
  size_t names_index = 0;
  if (elf_getshdrstrndx(elf->get(), &names_index) != 0) {
    return absl::InvalidArgumentError(
        absl::StrCat(path.string(), ": no section names: ", elf_errmsg(-1)));
  }
  for (Elf_Scn* section = elf_nextscn(elf->get(), nullptr); section != nullptr;
       section = elf_nextscn(elf->get(), section)) {
    GElf_Shdr header;
    if (gelf_getshdr(section, &header) == nullptr) continue;
    const char* name = elf_strptr(elf->get(), names_index, header.sh_name);
    if (name != nullptr && name == kGoBuildInfoSection) return true;
  }
  return false;
}

}  // namespace weft::elf
