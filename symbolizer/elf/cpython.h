// What weft needs from a CPython interpreter binary (the executable, or
// libpython when the executable links it) to read asyncio contexts
// (bpf/py_async.h): its version, where _PyRuntime lives, where
// PyContext_CopyCurrent's code starts, and the struct offsets of that version.
#pragma once

#include <cstdint>
#include <filesystem>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"

namespace weft::elf {

// Byte offsets inside CPython's runtime structures for one minor version.
struct CPythonOffsets {
  uint16_t interpreters_head = 0;  // _PyRuntimeState.interpreters.head
  uint16_t tstate_current = 0;     // _PyRuntimeState.gilstate.tstate_current
  uint16_t threads_head = 0;       // PyInterpreterState.threads.head
  uint16_t tstate_next = 0;        // PyThreadState.next
  uint16_t tstate_native_tid = 0;  // PyThreadState.native_thread_id
  uint16_t tstate_context = 0;     // PyThreadState.context
};

// The offsets of CPython `major`.`minor` on x86-64 Linux, or nothing when
// weft does not know that version's layout (only 3.11 so far: the layout
// moves between minor versions).
std::optional<CPythonOffsets> CPythonOffsetsFor(int major, int minor);

struct CPythonBinary {
  int major = 0;
  int minor = 0;
  int micro = 0;
  // _PyRuntime: link-time address and file offset (of its initialised data),
  // for finding its address in a process through that process's mappings.
  uint64_t runtime_vaddr = 0;
  uint64_t runtime_file_offset = 0;
  // File offset of PyContext_CopyCurrent's first instruction (a uprobe site).
  uint64_t copy_context_offset = 0;

  std::string version() const;
};

// Reads the interpreter facts from `path`. NotFound when the file is ELF but
// not a CPython interpreter (no _PyRuntime / PyContext_CopyCurrent /
// Py_Version in its dynamic symbols); other errors when it cannot be read.
absl::StatusOr<CPythonBinary> ReadCPythonBinary(const std::filesystem::path& path);

// Probe sites just after each `call PyContext_CopyCurrent` (through the
// PLT) in a CPython extension module: in _asyncio, Task creation and
// add_done_callback without a context. Each is the first relative branch
// after the call that RAX, the new context, reaches unchanged (a site the
// kernel emulates), as a file offset. Empty when the module makes no such
// call; an error when the file cannot be read as an x86-64 ELF.
absl::StatusOr<std::vector<uint64_t>> FindContextCopySites(const std::filesystem::path& path);

// True for the file name of CPython's C asyncio module
// (_asyncio.cpython-311-x86_64-linux-gnu.so, _asyncio.so).
bool IsAsyncioModuleName(std::string_view path);
// True for the file name of a shared libpython3 (libpython3.11.so.1.0).
bool IsLibpythonName(std::string_view path);

// Decodes Py_Version (PY_VERSION_HEX, e.g. 0x030B02F0 for 3.11.2 final).
void DecodePyVersionHex(uint32_t hex, CPythonBinary* binary);

}  // namespace weft::elf
