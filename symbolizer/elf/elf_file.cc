#include "symbolizer/elf/elf_file.h"

#include <fcntl.h>
#include <libelf.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <string>

#include "absl/strings/str_cat.h"

namespace weft::elf {

absl::StatusOr<ElfFile> ElfFile::Open(const std::filesystem::path& path) {
  static const bool libelf_ready = elf_version(EV_CURRENT) != EV_NONE;
  if (!libelf_ready) return absl::InternalError("libelf: version mismatch");
  int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) {
    const int err = errno;
    const std::string message =
        absl::StrCat("cannot open ", path.string(), ": ", std::strerror(err));
    if (err == ENOENT) return absl::NotFoundError(message);
    if (err == EACCES || err == EPERM) return absl::PermissionDeniedError(message);
    return absl::UnknownError(message);
  }
  ElfFile file(fd, elf_begin(fd, ELF_C_READ_MMAP, nullptr));
  if (!file.elf_ || elf_kind(file.elf_) != ELF_K_ELF) {
    return absl::InvalidArgumentError(absl::StrCat(path.string(), " is not an ELF file"));
  }
  return file;
}

ElfFile::ElfFile(ElfFile&& other) noexcept : fd_(other.fd_), elf_(other.elf_) {
  other.fd_ = -1;
  other.elf_ = nullptr;
}

ElfFile& ElfFile::operator=(ElfFile&& other) noexcept {
  if (this != &other) {
    Close();
    fd_ = other.fd_;
    elf_ = other.elf_;
    other.fd_ = -1;
    other.elf_ = nullptr;
  }
  return *this;
}

ElfFile::~ElfFile() { Close(); }

void ElfFile::Close() {
  if (elf_) elf_end(elf_);
  if (fd_ >= 0) ::close(fd_);
  elf_ = nullptr;
  fd_ = -1;
}

std::optional<uint64_t> VirtualToFileOffset(Elf* elf, uint64_t vaddr) {
  size_t count = 0;
  if (elf_getphdrnum(elf, &count) != 0) return std::nullopt;
  for (size_t i = 0; i < count; ++i) {
    GElf_Phdr segment;
    if (gelf_getphdr(elf, static_cast<int>(i), &segment) == nullptr) continue;
    if (segment.p_type != PT_LOAD) continue;
    if (vaddr >= segment.p_vaddr && vaddr < segment.p_vaddr + segment.p_filesz) {
      return vaddr - segment.p_vaddr + segment.p_offset;
    }
  }
  return std::nullopt;
}

absl::Status RequireX86_64(Elf* elf, const std::filesystem::path& path, std::string_view feature) {
  GElf_Ehdr header;
  if (gelf_getehdr(elf, &header) == nullptr || header.e_machine != EM_X86_64) {
    return absl::UnimplementedError(
        absl::StrCat(path.string(), ": ", std::string(feature), " support x86-64 only"));
  }
  return absl::OkStatus();
}

std::optional<ElfSection> FindElfSection(Elf* elf, std::string_view wanted) {
  size_t names_index = 0;
  if (elf_getshdrstrndx(elf, &names_index) != 0) return std::nullopt;
  for (Elf_Scn* scn = elf_nextscn(elf, nullptr); scn != nullptr; scn = elf_nextscn(elf, scn)) {
    ElfSection section;
    if (gelf_getshdr(scn, &section.header) == nullptr) continue;
    const char* name = elf_strptr(elf, names_index, section.header.sh_name);
    if (name == nullptr || wanted != name) continue;
    section.data = elf_getdata(scn, nullptr);
    if (section.data == nullptr || section.data->d_buf == nullptr) return std::nullopt;
    return section;
  }
  return std::nullopt;
}

}  // namespace weft::elf
