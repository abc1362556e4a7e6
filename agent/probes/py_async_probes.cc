#include "agent/probes/py_async_probes.h"

#include <bpf/bpf.h>

#include <algorithm>
#include <cerrno>
#include <cstring>

#include "absl/strings/str_cat.h"
#include "bpf/py_async.h"
#include "capture.skel.h"
#include "spdlog/spdlog.h"

namespace weft {

PyAsyncProbes::~PyAsyncProbes() {
  if (!detacher_.joinable()) StartDetach();
  detacher_.join();
}

void PyAsyncProbes::StartDetach() {
  if (detacher_.joinable()) return;
  std::vector<Link> all = std::move(retired_);
  for (auto& [pid, links] : links_) {
    for (auto& link : links) all.push_back(std::move(link));
  }
  links_.clear();
  detacher_ = std::thread([links = std::move(all)]() mutable { links.clear(); });
}

const std::optional<elf::CPythonBinary>& PyAsyncProbes::BinaryOf(const proc::FileId& file,
                                                                 const std::string& path) {
  if (auto it = interpreters_.find(file); it != interpreters_.end()) return it->second;
  auto binary = elf::ReadCPythonBinary(path);
  if (!binary.ok()) {
    spdlog::debug("Python: {}: {}", path, std::string(binary.status().message()));
    return interpreters_.emplace(file, std::nullopt).first->second;
  }
  return interpreters_.emplace(file, *binary).first->second;
}

const absl::StatusOr<std::vector<uint64_t>>& PyAsyncProbes::SitesOf(const proc::FileId& file,
                                                                    const std::string& path) {
  if (auto it = asyncio_modules_.find(file); it != asyncio_modules_.end()) return it->second;
  auto sites = elf::FindContextCopySites(path);
  if (sites.ok() && sites->empty()) {
    sites = absl::NotFoundError(
        absl::StrCat(path, " never calls PyContext_CopyCurrent through its PLT"));
  }
  return asyncio_modules_.emplace(file, std::move(sites)).first->second;
}

absl::Status PyAsyncProbes::Enable(uint32_t pid, const Interpreter& interpreter,
                                   const proc::Mapping& asyncio_module,
                                   const std::string& module_path,
                                   const std::vector<proc::Mapping>& mappings) {
  const elf::CPythonBinary& binary = interpreter.binary;
  auto offsets = elf::CPythonOffsetsFor(binary.major, binary.minor);
  if (!offsets) {
    ++stats_.processes_unsupported;
    return absl::UnimplementedError(
        absl::StrCat("CPython ", binary.version(), " (process ", pid,
                     "): weft knows the asyncio context layout of CPython 3.11 only; its "
                     "asyncio calls stay unlinked (weft.link.source=ambiguous)"));
  }
  const auto& sites = SitesOf(asyncio_module.file, module_path);
  if (!sites.ok()) return sites.status();
  // _PyRuntime is initialised data: the mapping of the interpreter file that
  // holds its file offset holds it in memory, wherever the loader put it.
  uint64_t runtime = 0;
  for (const proc::Mapping& m : mappings) {
    if (m.file == interpreter.file && binary.runtime_file_offset >= m.offset &&
        binary.runtime_file_offset < m.offset + (m.end - m.start)) {
      runtime = m.start + (binary.runtime_file_offset - m.offset);
      break;
    }
  }
  if (runtime == 0) {
    return absl::NotFoundError(
        absl::StrCat("process ", pid, ": _PyRuntime of ", interpreter.path, " is not mapped"));
  }
  // The kernel must know the process before the first probe can fire.
  weft_py_process value{};
  value.runtime_addr = runtime;
  value.interpreters_head = offsets->interpreters_head;
  value.tstate_current = offsets->tstate_current;
  value.threads_head = offsets->threads_head;
  value.tstate_next = offsets->tstate_next;
  value.tstate_native_tid = offsets->tstate_native_tid;
  value.tstate_context = offsets->tstate_context;
  capture_.MarkSlot(pid, WEFT_SLOT_MAY_PY);
  if (bpf_map__update_elem(capture_.skeleton()->maps.py_processes, &pid, sizeof(pid), &value,
                           sizeof(value), BPF_ANY) != 0) {
    return absl::ResourceExhaustedError(
        absl::StrCat("asyncio contexts for process ", pid, ": ", std::strerror(errno)));
  }
  capture_.skeleton()->bss->py_processes_present = 1;
  std::vector<Link> made;
  for (uint64_t offset : *sites) {
    LIBBPF_OPTS(bpf_uprobe_opts, opts, .retprobe = false);
    bpf_link* link =
        bpf_program__attach_uprobe_opts(capture_.skeleton()->progs.weft_py_context_copied,
                                        static_cast<int>(pid), module_path.c_str(), offset, &opts);
    if (!link) {
      const int error = errno;
      for (auto& done : made) retired_.push_back(std::move(done));
      bpf_map__delete_elem(capture_.skeleton()->maps.py_processes, &pid, sizeof(pid), 0);
      return absl::InternalError(absl::StrCat("attaching a uprobe to ", module_path,
                                              " at offset 0x", absl::Hex(offset), " for process ",
                                              pid, " failed: ", std::strerror(error)));
    }
    made.emplace_back(link);
  }
  if (auto old = links_.find(pid); old != links_.end()) {
    for (auto& link : old->second) retired_.push_back(std::move(link));
  }
  links_[pid] = std::move(made);
  return absl::OkStatus();
}

void PyAsyncProbes::ScanProcess(uint32_t pid) {
  const std::string proc_dir = absl::StrCat("/proc/", pid);
  auto exe_id = proc::StatFileId(proc_dir + "/exe");
  if (!exe_id) return;  // gone, or a kernel thread
  if (auto scanned = scanned_.find(pid); scanned != scanned_.end()) {
    if (scanned->second.first == *exe_id && scanned->second.second) {
      // Settled, unless it exec'd the same interpreter again: the kernel
      // forgets the process at every exec.
      weft_py_process value{};
      if (!links_.count(pid) || bpf_map__lookup_elem(capture_.skeleton()->maps.py_processes, &pid,
                                                     sizeof(pid), &value, sizeof(value), 0) == 0) {
        return;
      }
    }
  }
  auto& [scanned_exe, settled] = scanned_[pid];
  scanned_exe = *exe_id;
  settled = true;

  const auto mappings = proc::ReadMaps(static_cast<int>(pid));
  const std::string root = proc_dir + "/root";
  std::optional<Interpreter> interpreter;
  const proc::Mapping* asyncio_module = nullptr;
  for (const proc::Mapping& m : mappings) {
    if (m.path.empty() || m.path[0] != '/') continue;
    if (!asyncio_module && elf::IsAsyncioModuleName(m.path)) asyncio_module = &m;
    if (interpreter || !(m.file == *exe_id || elf::IsLibpythonName(m.path))) continue;
    // Through the process's root: inside a container, the file it maps.
    const std::string path = root + m.path;
    if (const auto& binary = BinaryOf(m.file, path))
      interpreter = Interpreter{m.file, path, *binary};
  }
  if (!interpreter) return;  // not CPython: settled
  if (!asyncio_module) {
    settled = false;  // may import asyncio later
    return;
  }
  if (auto st = Enable(pid, *interpreter, *asyncio_module, root + asyncio_module->path, mappings);
      !st.ok()) {
    if (st.code() != absl::StatusCode::kUnimplemented) ++stats_.attach_failures;
    spdlog::warn("Python: no asyncio task links for process {}: {}", pid,
                 std::string(st.message()));
    return;
  }
  ++stats_.processes_enabled;
  spdlog::info("Python: asyncio task contexts for process {} (CPython {}, {} probe sites in {})",
               pid, interpreter->binary.version(), links_[pid].size(), asyncio_module->path);
}

void PyAsyncProbes::Rescan() {
  const std::vector<uint32_t> pids = capture_.TracedProcesses();
  // Processes that left the traced set: a reused pid is new, and the uprobe
  // of one that is gone only waits to be detached.
  for (auto it = scanned_.begin(); it != scanned_.end();) {
    if (std::find(pids.begin(), pids.end(), it->first) != pids.end()) {
      ++it;
      continue;
    }
    if (auto links = links_.find(it->first); links != links_.end()) {
      for (auto& link : links->second) retired_.push_back(std::move(link));
      links_.erase(links);
    }
    it = scanned_.erase(it);
  }
  for (uint32_t pid : pids) ScanProcess(pid);
}

}  // namespace weft
