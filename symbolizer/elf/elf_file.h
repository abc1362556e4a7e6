// An ELF file opened for reading with libelf, owned as one RAII value.
#pragma once

#include <gelf.h>

#include <cstdint>
#include <filesystem>
#include <memory>
#include <optional>
#include <string_view>

#include "absl/status/status.h"
#include "absl/status/statusor.h"

namespace weft::elf {

class ElfFile {
 public:
  // NotFound / PermissionDenied / InvalidArgument (not ELF) name the path.
  static absl::StatusOr<ElfFile> Open(const std::filesystem::path& path);

  ElfFile(ElfFile&& other) noexcept;
  ElfFile& operator=(ElfFile&& other) noexcept;
  ElfFile(const ElfFile&) = delete;
  ElfFile& operator=(const ElfFile&) = delete;
  ~ElfFile();

  Elf* get() const { return elf_; }

 private:
  ElfFile(int fd, Elf* elf) : fd_(fd), elf_(elf) {}
  void Close();

  int fd_ = -1;
  Elf* elf_ = nullptr;
};

// A section's header and its bytes (owned by the ElfFile).
struct ElfSection {
  GElf_Shdr header;
  Elf_Data* data = nullptr;
};

// The section named `wanted` with its data, or nothing.
std::optional<ElfSection> FindElfSection(Elf* elf, std::string_view wanted);

// Virtual address -> file offset through the loadable segment whose file
// bytes hold it (nothing for .bss or an address outside every segment).
std::optional<uint64_t> VirtualToFileOffset(Elf* elf, uint64_t vaddr);

// An error naming `path` and `feature` unless the file is x86-64 code.
absl::Status RequireX86_64(Elf* elf, const std::filesystem::path& path, std::string_view feature);

inline std::string_view SectionBytes(const ElfSection& section) {
  return {static_cast<const char*>(section.data->d_buf), section.data->d_size};
}

}  // namespace weft::elf
