#include "agent/probes/tls_probes.h"

#include <bpf/bpf.h>
#include <fcntl.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>

#include "absl/strings/str_cat.h"
#include "capture.skel.h"
#include "spdlog/spdlog.h"
#include "symbolizer/elf/elf_symbols.h"

namespace weft {
namespace {

// Closing uprobes from several threads overlaps what the kernel lets
// overlap (it serialises most of a uprobe's removal).
constexpr size_t kMaxDetachThreads = 16;
// Below this many uprobes a stop detaches them itself (about 60 ms each).
constexpr size_t kMaxUprobesDetachedInProcess = 8;

// A child process that holds the only other references to `fds` (the
// links' descriptors) until `release_fd` reaches end of file, then exits:
// the kernel's slow removal of the uprobes runs in its exit, not in weft's.
// Between fork and exit it makes raw system calls only (weft has threads).
pid_t ForkDetachHelper(std::vector<int> fds, int release_fd) {
  fds.push_back(release_fd);
  std::sort(fds.begin(), fds.end());
  pid_t pid = fork();
  if (pid != 0) return pid;
  prctl(PR_SET_NAME, "weft-detach", 0, 0, 0);
  // Close every descriptor but `fds`: the links of the capture probes and
  // the ring buffer are weft's to release, now.
  unsigned int next = 0;
  for (int fd : fds) {
    if (static_cast<unsigned int>(fd) > next) {
      syscall(SYS_close_range, next, static_cast<unsigned int>(fd) - 1, 0);
    }
    next = static_cast<unsigned int>(fd) + 1;
  }
  syscall(SYS_close_range, next, ~0U, 0);
  char byte;
  while (read(release_fd, &byte, 1) != 0) {
  }
  _exit(0);
}

bpf_program* EntryProgram(capture_bpf* skel, SslCallKind kind) {
  switch (kind) {
    case SslCallKind::kRead:
      return skel->progs.weft_ssl_read_enter;
    case SslCallKind::kReadEx:
      return skel->progs.weft_ssl_read_ex_enter;
    case SslCallKind::kWrite:
      return skel->progs.weft_ssl_write_enter;
    case SslCallKind::kWriteEx:
      return skel->progs.weft_ssl_write_ex_enter;
  }
  return nullptr;
}

const std::vector<std::string>& SslFunctionNames() {
  static const std::vector<std::string> names = {"SSL_read", "SSL_read_ex", "SSL_write",
                                                 "SSL_write_ex"};
  return names;
}

}  // namespace

TlsProbes::TlsProbes(CaptureProbes& capture, TlsProbeScope scope)
    : capture_(capture), scope_(scope) {}

TlsProbes::~TlsProbes() {
  StartDetach();
  for (Detacher& detacher : detachers_) detacher.thread.join();
  if (release_fd_ >= 0) close(release_fd_);
}

void TlsProbes::DetachInBackground(std::vector<Link> links) {
  // Reap the detaches that finished, so a long run with many exits keeps
  // no idle threads.
  std::erase_if(detachers_, [](Detacher& d) {
    if (!d.done->load()) return false;
    d.thread.join();
    return true;
  });
  if (links.empty()) return;
  stats_.links_detached += links.size();
  auto done = std::make_shared<std::atomic<bool>>(false);
  std::thread thread([links = std::move(links), done]() mutable {
    size_t threads = std::min(links.size(), kMaxDetachThreads);
    std::vector<std::thread> workers;
    for (size_t t = 1; t < threads; ++t) {
      workers.emplace_back([&links, t, threads] {
        for (size_t i = t; i < links.size(); i += threads) links[i].reset();
      });
    }
    for (size_t i = 0; i < links.size(); i += threads) links[i].reset();
    for (std::thread& worker : workers) worker.join();
    done->store(true);
  });
  detachers_.push_back({std::move(thread), std::move(done)});
}

void TlsProbes::StartDetach() {
  if (stopping_) return;
  stopping_ = true;
  std::vector<Link> all;
  for (auto& [pid, attachment] : attached_) {
    for (Link& link : attachment.links) all.push_back(std::move(link));
  }
  attached_.clear();
  if (all.size() > kMaxUprobesDetachedInProcess) HandOverToHelper(all);
  DetachInBackground(std::move(all));
}

void TlsProbes::HandOverToHelper(const std::vector<Link>& links) {
  // The kernel removes uprobes one at a time, about 60 ms each, under one
  // lock: a stop with many traced processes would take seconds. A helper
  // keeps the links alive past weft's exit and pays for their removal.
  int release[2];
  if (pipe2(release, O_CLOEXEC) != 0) return;
  std::vector<int> fds;
  for (const Link& link : links) fds.push_back(bpf_link__fd(link.get()));
  pid_t helper = ForkDetachHelper(fds, release[0]);
  close(release[0]);
  if (helper < 0) {
    close(release[1]);
    return;
  }
  // Weft's own references go first (DetachInBackground: cheap now); the
  // helper wakes when the write end closes, here or at weft's exit.
  release_fd_ = release[1];
  spdlog::debug("TLS: {} uprobes handed to detach helper process {}", links.size(), helper);
}

void TlsProbes::Detach(int pid) {
  auto it = attached_.find(pid);
  if (it == attached_.end()) return;
  DetachInBackground(std::move(it->second.links));
  attached_.erase(it);
}

absl::StatusOr<const TlsProbes::ProbePoints*> TlsProbes::PointsOf(const proc::FileId& file,
                                                                  const std::string& path) {
  if (auto it = points_.find(file); it != points_.end()) return &it->second;
  auto offsets = elf::FunctionFileOffsets(path, SslFunctionNames());
  if (!offsets.ok()) return offsets.status();
  if (!offsets->count("SSL_read") && !offsets->count("SSL_read_ex")) {
    return absl::NotFoundError(absl::StrCat(path, " defines neither SSL_read nor SSL_read_ex"));
  }
  auto points = FindSslProbePoints(path, *offsets);
  if (!points.ok()) return points.status();
  for (const SslProbePoint& point : *points) {
    spdlog::debug("TLS: {}: probing {} at file offset {:#x}", path, point.name, point.offset);
  }
  return &points_.emplace(file, *std::move(points)).first->second;
}

absl::Status TlsProbes::AttachFile(const std::string& path, const ProbePoints& points, int pid,
                                   std::vector<Link>& out) {
  capture_bpf* skel = capture_.skeleton();
  std::vector<Link> made;
  // Return probes first: a call whose entry is seen must have its return
  // seen, or the thread's later socket I/O would count as inside the call.
  for (bool retprobe : {true, false}) {
    for (const SslProbePoint& point : points) {
      LIBBPF_OPTS(bpf_uprobe_opts, opts, .retprobe = retprobe);
      bpf_program* program =
          retprobe ? skel->progs.weft_ssl_return : EntryProgram(skel, point.kind);
      bpf_link* link =
          bpf_program__attach_uprobe_opts(program, pid, path.c_str(), point.offset, &opts);
      if (!link) {
        int error = errno;
        DetachInBackground(std::move(made));
        return absl::InternalError(absl::StrCat("attaching a ", retprobe ? "uretprobe" : "uprobe",
                                                " to ", point.name, " in ", path,
                                                " failed: ", std::strerror(error)));
      }
      made.emplace_back(link);
    }
  }
  for (auto& link : made) out.push_back(std::move(link));
  return absl::OkStatus();
}

void TlsProbes::ScanProcess(uint32_t pid) {
  if (stopping_) return;
  ++stats_.processes_scanned;
  const int key = scope_ == TlsProbeScope::kWholeNode ? kAllProcesses : static_cast<int>(pid);
  const int attach_pid = scope_ == TlsProbeScope::kWholeNode ? -1 : static_cast<int>(pid);
  const std::string root = absl::StrCat("/proc/", pid, "/root");
  auto mappings = proc::ReadMaps(static_cast<int>(pid));
  for (const proc::Mapping& lib : proc::FindLibssl(mappings)) {
    if (failed_files_.count(lib.file)) continue;
    Attachment& attachment = attached_[key];
    if (!attachment.files.insert(lib.file).second) continue;
    // Through the process's root, so a library inside a container's mount
    // namespace is the very file the process maps.
    std::string path = root + lib.path;
    auto points = PointsOf(lib.file, path);
    absl::Status st =
        points.ok() ? AttachFile(path, **points, attach_pid, attachment.links) : points.status();
    if (!st.ok()) {
      ++stats_.files_failed;
      // A file without the symbols never gets them; an attach that failed
      // for one process (it exited meanwhile) is not retried for it.
      if (!points.ok()) failed_files_.insert(lib.file);
      spdlog::warn("TLS: no plaintext capture for {} (process {}): {}", lib.path, pid,
                   std::string(st.message()));
      continue;
    }
    ++stats_.files_probed;
    if (scope_ == TlsProbeScope::kWholeNode) {
      spdlog::info("TLS: capturing plaintext of {} (first seen in process {})", lib.path, pid);
    } else {
      spdlog::debug("TLS: capturing plaintext of {} in process {}", lib.path, pid);
    }
  }
}

void TlsProbes::OnProcessStarted(uint32_t pid) {
  if (stopping_) return;
  if (scope_ == TlsProbeScope::kTracedProcesses) Detach(static_cast<int>(pid));
  ScanProcess(pid);
}

void TlsProbes::OnProcessExited(uint32_t pid) {
  if (scope_ == TlsProbeScope::kTracedProcesses && !stopping_) Detach(static_cast<int>(pid));
}

void TlsProbes::Rescan() {
  if (stopping_) return;
  std::set<int> pids;
  for (uint32_t pid : capture_.TracedProcesses()) pids.insert(static_cast<int>(pid));
  if (scope_ == TlsProbeScope::kTracedProcesses) {
    // An exit event lost to a full ring buffer must not keep dead probes.
    std::vector<int> gone;
    for (const auto& [pid, attachment] : attached_) {
      if (!pids.count(pid)) gone.push_back(pid);
    }
    for (int pid : gone) Detach(pid);
  }
  for (int pid : pids) ScanProcess(static_cast<uint32_t>(pid));
}

}  // namespace weft
