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

namespace weft::elf {
namespace {

constexpr std::string_view kGoBuildInfoSection = ".go.buildinfo";

class FileDescriptor {
 public:
  explicit FileDescriptor(int fd) : fd_(fd) {}
  ~FileDescriptor() {
    if (fd_ >= 0) ::close(fd_);
  }
  FileDescriptor(const FileDescriptor&) = delete;
  FileDescriptor& operator=(const FileDescriptor&) = delete;
  int get() const { return fd_; }

 private:
  int fd_;
};

struct ElfCloser {
  void operator()(Elf* elf) const { elf_end(elf); }
};
using ElfHandle = std::unique_ptr<Elf, ElfCloser>;

bool LibelfReady() {
  static const bool ready = elf_version(EV_CURRENT) != EV_NONE;
  return ready;
}

}  // namespace

absl::StatusOr<bool> IsGoBinary(const std::filesystem::path& path) {
  if (!LibelfReady()) return absl::InternalError("libelf: version mismatch");
  FileDescriptor fd(::open(path.c_str(), O_RDONLY | O_CLOEXEC));
  if (fd.get() < 0) {
    const int err = errno;
    const std::string message =
        absl::StrCat("cannot open ", path.string(), ": ", std::strerror(err));
    if (err == ENOENT) return absl::NotFoundError(message);
    if (err == EACCES || err == EPERM) return absl::PermissionDeniedError(message);
    return absl::UnknownError(message);
  }
  ElfHandle elf(elf_begin(fd.get(), ELF_C_READ_MMAP, nullptr));
  if (!elf || elf_kind(elf.get()) != ELF_K_ELF) {
    return absl::InvalidArgumentError(absl::StrCat(path.string(), " is not an ELF file"));
  }
  size_t names_index = 0;
  if (elf_getshdrstrndx(elf.get(), &names_index) != 0) {
    return absl::InvalidArgumentError(
        absl::StrCat(path.string(), ": no section names: ", elf_errmsg(-1)));
  }
  for (Elf_Scn* section = elf_nextscn(elf.get(), nullptr); section != nullptr;
       section = elf_nextscn(elf.get(), section)) {
    GElf_Shdr header;
    if (gelf_getshdr(section, &header) == nullptr) continue;
    const char* name = elf_strptr(elf.get(), names_index, header.sh_name);
    if (name != nullptr && name == kGoBuildInfoSection) return true;
  }
  return false;
}

}  // namespace weft::elf
