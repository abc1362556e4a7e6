// Whether a Node.js program listens for a signal itself, read from libuv's
// tree of signal watchers in its memory. weft opens the inspector of a
// Node.js process with SIGUSR1 only when nothing but Node's own inspector
// handler would see that signal: a program's `process.on('SIGUSR1')` is a
// libuv signal watcher, and sending it the signal would run its handler.
#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>

#include "absl/status/statusor.h"

namespace weft::nodejs {

// Reads `size` bytes of the process at `address` into `out`; false when the
// memory cannot be read.
using ReadMemory = std::function<bool(uint64_t address, void* out, size_t size)>;

// Layout of libuv's uv_signal_t on x86-64 (libuv 1.x: the handle fields,
// then signal_cb, signum and the red-black tree links).
struct UvSignalLayout {
  size_t size = 152;
  size_t type = 16;      // uv_handle_type
  size_t signum = 104;   // int
  size_t left = 112;     // tree_entry.rbe_left
  size_t right = 120;    // tree_entry.rbe_right
  int signal_type = 16;  // UV_SIGNAL
};

// Walks the tree whose root pointer is at `tree_address` (libuv's
// uv__signal_tree) and says whether any watcher has `signum`. An error when
// the memory cannot be read or a node does not look like a uv_signal_t: then
// nobody knows, and the caller must not send the signal.
absl::StatusOr<bool> UvWatchesSignal(const ReadMemory& read, uint64_t tree_address, int signum,
                                     const UvSignalLayout& layout = {});

// A ReadMemory over another process's memory (process_vm_readv).
ReadMemory ProcessMemory(int pid);

}  // namespace weft::nodejs
