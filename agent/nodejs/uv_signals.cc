#include "agent/nodejs/uv_signals.h"

#include <sys/uio.h>

#include <cstring>
#include <vector>

#include "absl/strings/str_cat.h"

namespace weft::nodejs {
namespace {

// A program has a handful of signal watchers; a walk this long means the
// memory is not what it seems (or a cycle).
constexpr int kMaxWatchers = 4096;
constexpr int kMaxSignal = 64;

}  // namespace

absl::StatusOr<bool> UvWatchesSignal(const ReadMemory& read, uint64_t tree_address, int signum,
                                     const UvSignalLayout& layout) {
  uint64_t root = 0;
  if (!read(tree_address, &root, sizeof(root))) {
    return absl::UnavailableError(
        absl::StrCat("cannot read libuv's signal watchers at 0x", absl::Hex(tree_address)));
  }
  std::vector<uint64_t> pending;
  if (root) pending.push_back(root);
  std::vector<uint8_t> node(layout.size);
  int visited = 0;
  while (!pending.empty()) {
    const uint64_t at = pending.back();
    pending.pop_back();
    if (++visited > kMaxWatchers) {
      return absl::DataLossError("libuv's signal watcher tree is too large to be real");
    }
    if (!read(at, node.data(), node.size())) {
      return absl::UnavailableError(
          absl::StrCat("cannot read a libuv signal watcher at 0x", absl::Hex(at)));
    }
    int type = 0, watched = 0;
    uint64_t left = 0, right = 0;
    std::memcpy(&type, node.data() + layout.type, sizeof(type));
    std::memcpy(&watched, node.data() + layout.signum, sizeof(watched));
    std::memcpy(&left, node.data() + layout.left, sizeof(left));
    std::memcpy(&right, node.data() + layout.right, sizeof(right));
    if (type != layout.signal_type || watched <= 0 || watched > kMaxSignal) {
      return absl::DataLossError(absl::StrCat("0x", absl::Hex(at),
                                              " does not look like a libuv signal watcher (type ",
                                              type, ", signal ", watched, ")"));
    }
    if (watched == signum) return true;
    if (left) pending.push_back(left);
    if (right) pending.push_back(right);
  }
  return false;
}

ReadMemory ProcessMemory(int pid) {
  return [pid](uint64_t address, void* out, size_t size) {
    iovec local{out, size};
    iovec remote{reinterpret_cast<void*>(address), size};
    return process_vm_readv(pid, &local, 1, &remote, 1, 0) == static_cast<ssize_t>(size);
  };
}

}  // namespace weft::nodejs
