#include "agent/nodejs/node_links.h"

#include <algorithm>
#include <cerrno>
#include <cstring>

#include "absl/strings/str_cat.h"
#include "capture.skel.h"
#include "spdlog/spdlog.h"

namespace weft::nodejs {
namespace {

// A process that does not catch SIGUSR1 yet is looked at again this often,
// this many times (Node installs its handler a few ms after it starts).
constexpr absl::Duration kRetryEvery = absl::Milliseconds(500);
constexpr int kMaxAttempts = 10;

// Where the process has libuv's signal tree: the link-time address, moved by
// the load bias for a position-independent executable.
std::optional<uint64_t> SignalTreeAddress(const elf::NodeBinary& binary, const proc::FileId& exe,
                                          int pid) {
  if (!binary.signal_tree_vaddr) return std::nullopt;
  if (!binary.position_independent) return binary.signal_tree_vaddr;
  for (const proc::Mapping& m : proc::ReadMaps(pid)) {
    if (m.file == exe && m.offset == 0) {
      const uint64_t bias = m.start - (binary.first_segment_vaddr & ~uint64_t{0xfff});
      return *binary.signal_tree_vaddr + bias;
    }
  }
  return std::nullopt;
}

}  // namespace

NodeLinks::NodeLinks(CaptureProbes& capture, InjectorOptions options)
    : capture_(capture), options_(std::move(options)) {
  options_.on_own_connection = [this](uint16_t port) {
    std::lock_guard lock(ports_mutex_);
    own_ports_.push_back(port);
    // A few injections' worth: older ports are long closed.
    if (own_ports_.size() > 64) own_ports_.pop_front();
  };
  worker_ = std::thread([this] { WorkerLoop(); });
}

bool NodeLinks::IsOwnInspectorConnection(uint16_t local_port, uint16_t remote_port) const {
  if (local_port != options_.inspector_port) return false;
  std::lock_guard lock(ports_mutex_);
  return std::find(own_ports_.begin(), own_ports_.end(), remote_port) != own_ports_.end();
}

NodeLinks::~NodeLinks() {
  {
    std::lock_guard lock(mutex_);
    stopping_ = true;
    jobs_.clear();
  }
  wake_.notify_all();
  worker_.join();
}

void NodeLinks::Enqueue(Job job) {
  {
    std::lock_guard lock(mutex_);
    jobs_.push_back(std::move(job));
  }
  wake_.notify_all();
}

void NodeLinks::WorkerLoop() {
  std::unique_lock lock(mutex_);
  while (true) {
    wake_.wait(lock, [this] { return stopping_ || !jobs_.empty(); });
    if (stopping_) break;
    Job job = std::move(jobs_.front());
    jobs_.pop_front();
    busy_ = true;
    lock.unlock();
    Result result{job.target.pid, job.kind,
                  job.kind == JobKind::kInstall ? InstallHook(job.target, options_)
                                                : UninstallHook(job.target, options_)};
    lock.lock();
    results_.push_back(std::move(result));
    busy_ = false;
    if (jobs_.empty()) idle_.notify_all();
  }
  busy_ = false;
  idle_.notify_all();
}

void NodeLinks::WaitIdle(absl::Duration wait) {
  std::unique_lock lock(mutex_);
  idle_.wait_for(lock, absl::ToChronoNanoseconds(wait), [this] { return jobs_.empty() && !busy_; });
  lock.unlock();
  ApplyResults();
}

void NodeLinks::ApplyResults() {
  std::vector<Result> results;
  {
    std::lock_guard lock(mutex_);
    results.swap(results_);
  }
  for (Result& r : results) {
    auto it = processes_.find(static_cast<uint32_t>(r.pid));
    if (r.kind == JobKind::kUninstall) {
      if (r.outcome.ok()) {
        ++stats_.processes_unhooked;
        spdlog::info("Node.js: hook taken out of process {} ({})", r.pid, *r.outcome);
      } else {
        spdlog::warn("Node.js: the hook stays in process {}: {}", r.pid,
                     std::string(r.outcome.status().message()));
      }
      continue;
    }
    if (it == processes_.end()) continue;
    Process& p = it->second;
    if (r.outcome.ok()) {
      p.state = Process::State::kHooked;
      p.installed = *r.outcome == "installed";
      ++stats_.processes_hooked;
      spdlog::info("Node.js: request links for process {} (hook {})", r.pid,
                   p.installed ? "installed" : "already there");
      continue;
    }
    const absl::Status& error = r.outcome.status();
    if (error.code() == absl::StatusCode::kUnavailable && ++p.attempts < kMaxAttempts) {
      p.state = Process::State::kRetry;
      p.retry_at = absl::Now() + kRetryEvery;
      continue;
    }
    p.state = Process::State::kGaveUp;
    links_.erase(it->first);  // no hook: no messages to read
    if (error.code() == absl::StatusCode::kFailedPrecondition ||
        error.code() == absl::StatusCode::kUnavailable) {
      ++stats_.processes_refused;
      spdlog::warn("Node.js: no request links for process {}: {}", r.pid,
                   std::string(error.message()));
    } else {
      ++stats_.failures;
      spdlog::warn("Node.js: installing the request-link hook in process {} failed: {}", r.pid,
                   std::string(error.message()));
    }
  }
}

const std::optional<elf::NodeBinary>& NodeLinks::BinaryOf(const proc::FileId& file,
                                                          const std::string& path) {
  if (auto it = binaries_.find(file); it != binaries_.end()) return it->second;
  auto binary = elf::ReadNodeBinary(path);
  if (!binary.ok()) {
    if (binary.status().code() != absl::StatusCode::kNotFound) {
      spdlog::debug("Node.js: {}: {}", path, std::string(binary.status().message()));
    }
    return binaries_.emplace(file, std::nullopt).first->second;
  }
  return binaries_.emplace(file, *binary).first->second;
}

void NodeLinks::ScanProcess(uint32_t pid) {
  const std::string exe_path = absl::StrCat("/proc/", pid, "/exe");
  auto exe = proc::StatFileId(exe_path);
  if (!exe) return;  // gone, or a kernel thread
  auto [it, added] = processes_.try_emplace(pid);
  Process& p = it->second;
  if (!added && p.exe == *exe) {
    if (p.state != Process::State::kRetry || absl::Now() < p.retry_at) return;
    p.state = Process::State::kQueued;
    Enqueue({JobKind::kInstall, p.target});
    return;
  }
  // New, or it exec'd: start over.
  links_.erase(pid);
  p = Process{};
  p.exe = *exe;
  const auto& binary = BinaryOf(*exe, exe_path);
  if (!binary) return;  // kNotNode
  p.target.pid = static_cast<int>(pid);
  p.target.signal_tree_address = SignalTreeAddress(*binary, *exe, static_cast<int>(pid));
  // The uprobe first: the hook speaks as soon as it runs.
  LIBBPF_OPTS(bpf_uprobe_opts, opts, .retprobe = false);
  bpf_link* link = bpf_program__attach_uprobe_opts(capture_.skeleton()->progs.weft_node_signal,
                                                   static_cast<int>(pid), exe_path.c_str(),
                                                   binary->probe_offset, &opts);
  if (!link) {
    ++stats_.failures;
    p.state = Process::State::kGaveUp;
    spdlog::warn(
        "Node.js: no request links for process {}: attaching a uprobe to its "
        "uv_fs_access failed: {}",
        pid, std::strerror(errno));
    return;
  }
  links_[pid].reset(link);
  capture_.skeleton()->bss->node_processes_present = 1;
  // One thread serves every request: its thread is never a request's.
  if (auto st = capture_.MarkMultiplexing(pid); !st.ok()) {
    spdlog::warn("{}", std::string(st.message()));
  }
  p.state = Process::State::kQueued;
  Enqueue({JobKind::kInstall, p.target});
}

void NodeLinks::Rescan() {
  if (shut_down_) return;
  ApplyResults();
  const std::vector<uint32_t> pids = capture_.TracedProcesses();
  for (auto it = processes_.begin(); it != processes_.end();) {
    if (std::find(pids.begin(), pids.end(), it->first) != pids.end()) {
      ++it;
      continue;
    }
    links_.erase(it->first);
    it = processes_.erase(it);
  }
  for (uint32_t pid : pids) ScanProcess(pid);
}

void NodeLinks::Shutdown(absl::Duration budget) {
  if (shut_down_) return;
  shut_down_ = true;
  const absl::Time deadline = absl::Now() + budget;
  {
    std::lock_guard lock(mutex_);
    jobs_.clear();  // installs not started yet
  }
  // An install under way ends first: its hook must be taken out too.
  WaitIdle(budget / 2);
  {
    std::lock_guard lock(mutex_);
    for (const auto& [pid, p] : processes_) {
      if (p.state == Process::State::kHooked && p.installed) {
        jobs_.push_back({JobKind::kUninstall, p.target});
      }
    }
  }
  wake_.notify_all();
  WaitIdle(std::max(deadline - absl::Now(), absl::ZeroDuration()));
  {
    std::lock_guard lock(mutex_);
    const size_t left = jobs_.size() + (busy_ ? 1 : 0);
    jobs_.clear();
    if (left) {
      spdlog::warn("Node.js: out of time at shutdown: the hook may stay in {} processes", left);
    }
  }
  links_.clear();
}

NodeLinkStats NodeLinks::stats() const { return stats_; }

}  // namespace weft::nodejs
