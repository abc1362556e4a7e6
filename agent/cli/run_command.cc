#include "agent/cli/run_command.h"

#include <signal.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cstdio>
#include <set>

#include "absl/strings/str_join.h"
#include "agent/events/event_json.h"
#include "agent/probes/kernel_fs.h"
#include "spdlog/spdlog.h"
#include "symbolizer/proc/proc_reader.h"

namespace weft {

namespace {

std::atomic<bool> g_stop{false};

void OnStopSignal(int) { g_stop.store(true); }

void InstallSignalHandlers() {
  struct sigaction sa {};
  sa.sa_handler = OnStopSignal;
  sigemptyset(&sa.sa_mask);
  sigaction(SIGINT, &sa, nullptr);
  sigaction(SIGTERM, &sa, nullptr);
  signal(SIGPIPE, SIG_IGN);
}

// Every process to trace: the requested ones and their descendants, never
// weft itself.
std::set<int> ExpandProcessTree(const proc::ProcReader& reader, const std::vector<int>& roots) {
  std::set<int> all;
  int self = getpid();
  for (int pid : roots) {
    if (pid != self) all.insert(pid);
    auto descendants = reader.ListDescendants(pid);
    if (!descendants.ok()) continue;
    for (int child : *descendants) {
      if (child != self) all.insert(child);
    }
  }
  return all;
}

void LogStats(const CaptureStats& s, bool final_line) {
  auto level = final_line ? spdlog::level::info : spdlog::level::debug;
  spdlog::log(level,
              "capture: {} events, {} lost, {} bytes captured, {} truncated, {} size-only, "
              "{} read faults, {} decode errors",
              s.events, s.lost, s.bytes_captured, s.truncated, s.size_only, s.read_faults,
              s.decode_errors);
}

}  // namespace

int RunAgent(const RunOptions& options) {
  if (options.pids.empty()) {
    spdlog::error("nothing to trace: pass --pid PID (repeatable) for each process to trace");
    return 2;
  }
  proc::ProcReader reader;
  for (int pid : options.pids) {
    if (pid <= 0 || !reader.ProcessExists(pid)) {
      spdlog::error("no such process {}: check the PID with `ps -p {}`", pid, pid);
      return 2;
    }
    if (pid == getpid()) {
      spdlog::error("--pid {} is weft itself; weft never traces itself", pid);
      return 2;
    }
  }
  if (auto priv = RequireTracingPrivileges(); !priv.ok()) {
    spdlog::error("{}", std::string(priv.message()));
    return 2;
  }
  for (const auto& note : EnsureKernelFilesystems()) spdlog::debug("{}", note);

  InstallSignalHandlers();
  const int64_t clock_offset = MonotonicToUnixOffsetNs();
  std::string line;
  uint64_t handled = 0;
  auto handler = [&](const Event& event) {
    ++handled;
    if (options.events) {
      line = EventToJson(event, clock_offset);
      line.push_back('\n');
      std::fwrite(line.data(), 1, line.size(), stdout);
    }
  };

  auto probes = CaptureProbes::Start(options.capture, handler);
  if (!probes.ok()) {
    spdlog::error("{}", std::string(probes.status().message()));
    return probes.status().code() == absl::StatusCode::kInternal ? 1 : 2;
  }
  // Root first, then its tree: a child forked after the root is in the map is
  // followed by the kernel; a second scan catches children of children that
  // forked while the first scan ran.
  std::set<int> traced;
  for (int pass = 0; pass < 2; ++pass) {
    for (int pid : ExpandProcessTree(reader, options.pids)) {
      if (traced.count(pid)) continue;
      if (auto st = (*probes)->TraceProcess(pid); !st.ok()) {
        spdlog::error("{}", std::string(st.message()));
        return 1;
      }
      traced.insert(pid);
    }
  }

  std::fprintf(stderr, "weft ready: tracing %zu processes (%s), backend %s\n", traced.size(),
               absl::StrJoin(traced, ",").c_str(),
               std::string(ToString((*probes)->backend())).c_str());
  std::fflush(stderr);

  using Clock = std::chrono::steady_clock;
  const auto started = Clock::now();
  auto next_stats = started;
  uint64_t last_lost = 0;
  while (!g_stop.load()) {
    auto polled = (*probes)->Poll(100);
    if (!polled.ok()) {
      spdlog::error("{}", std::string(polled.status().message()));
      return 1;
    }
    std::fflush(stdout);
    auto now = Clock::now();
    if (options.duration_seconds > 0 &&
        now - started >= std::chrono::duration<double>(options.duration_seconds)) {
      break;
    }
    if (now >= next_stats) {
      next_stats = now + std::chrono::seconds(1);
      CaptureStats s = (*probes)->Stats();
      if (s.lost > last_lost) {
        spdlog::warn("the ring buffer overflowed: {} events lost so far (raise --ring-buffer-mb)",
                     s.lost);
        last_lost = s.lost;
      }
    }
  }
  // Drain what the kernel wrote before the stop.
  (void)(*probes)->Poll(0);
  std::fflush(stdout);
  LogStats((*probes)->Stats(), true);
  probes->reset();  // detach before exit
  return 0;
}

}  // namespace weft
