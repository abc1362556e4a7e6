// /proc/PID/maps: which files a process has mapped, and which of them is a
// shared OpenSSL (libssl) to put TLS uprobes on. Parsing is pure; ReadMaps
// and StatFileId are the functions that read the live system.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace weft::proc {

// A file identified the way the kernel does: one uprobe per (device, inode)
// covers every process mapping that file, under any path.
struct FileId {
  uint32_t dev_major = 0;
  uint32_t dev_minor = 0;
  uint64_t inode = 0;
  friend bool operator<(const FileId& a, const FileId& b) {
    if (a.dev_major != b.dev_major) return a.dev_major < b.dev_major;
    if (a.dev_minor != b.dev_minor) return a.dev_minor < b.dev_minor;
    return a.inode < b.inode;
  }
  friend bool operator==(const FileId& a, const FileId& b) {
    return a.dev_major == b.dev_major && a.dev_minor == b.dev_minor && a.inode == b.inode;
  }
};

struct Mapping {
  uint64_t start = 0;
  uint64_t end = 0;
  std::string perms;  // "r-xp"
  uint64_t offset = 0;
  FileId file;
  std::string path;  // empty for anonymous mappings; may end in " (deleted)"
};

// Parses the content of /proc/PID/maps; malformed lines are skipped.
std::vector<Mapping> ParseMaps(std::string_view content);

// /proc/PID/maps of a live process, parsed; empty when it is gone.
std::vector<Mapping> ReadMaps(int pid);

// The file `path` names (e.g. /proc/PID/exe), or nothing when stat fails.
std::optional<FileId> StatFileId(const std::string& path);

// True for the file name of a shared OpenSSL libssl: libssl.so.3,
// libssl.so.1.1, libssl.so (not libssl3.so, which is NSS).
bool IsLibsslName(std::string_view path);

// Every distinct libssl file the mappings hold (one entry per FileId), with
// the path it is mapped under. Deleted files are skipped.
std::vector<Mapping> FindLibssl(const std::vector<Mapping>& mappings);

}  // namespace weft::proc
