// An ELF file opened for reading with libelf, owned as one RAII value.
#pragma once

#include <filesystem>
#include <memory>

#include "absl/status/statusor.h"

struct Elf;

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

}  // namespace weft::elf
