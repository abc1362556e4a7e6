#include "agent/probes/kernel_fs.h"

#include <sys/mount.h>
#include <sys/stat.h>

#include <cerrno>
#include <cstring>
#include <fstream>
#include <sstream>

namespace weft {

bool IsMounted(const std::string& path, const std::string& fstype) {
  std::ifstream mounts("/proc/self/mounts");
  std::string line;
  while (std::getline(mounts, line)) {
    std::istringstream fields(line);
    std::string source, target, type;
    fields >> source >> target >> type;
    if (target == path && type == fstype) return true;
  }
  return false;
}

namespace {

std::string MountIfMissing(const char* path, const char* fstype) {
  if (IsMounted(path, fstype)) return std::string(fstype) + " already mounted at " + path;
  struct stat st;
  if (stat(path, &st) != 0) {
    return std::string("cannot mount ") + fstype + ": " + path + " does not exist";
  }
  if (mount(fstype, path, fstype, 0, nullptr) != 0) {
    return std::string("could not mount ") + fstype + " at " + path + ": " + std::strerror(errno);
  }
  return std::string("mounted ") + fstype + " at " + path;
}

}  // namespace

std::vector<std::string> EnsureKernelFilesystems() {
  return {MountIfMissing("/sys/kernel/tracing", "tracefs"), MountIfMissing("/sys/fs/bpf", "bpf")};
}

}  // namespace weft
