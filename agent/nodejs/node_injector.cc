#include "agent/nodejs/node_injector.h"

#include <fcntl.h>
#include <sched.h>
#include <signal.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <fstream>
#include <thread>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"
#include "agent/nodejs/inspector_client.h"
#include "agent/nodejs/uv_signals.h"
#include "weft_node_agent_source.h"

namespace weft::nodejs {
namespace {

constexpr char kUninstall[] =
    "(() => { const hook = globalThis[Symbol.for('weft.node-links')]; "
    "return hook ? hook.uninstall() : 'absent'; })()";

// A line of /proc/PID/status ("SigCgt:", "NSpid:"), without its name.
std::optional<std::string> StatusField(int pid, absl::string_view name) {
  std::ifstream status(absl::StrCat("/proc/", pid, "/status"));
  std::string line;
  while (std::getline(status, line)) {
    absl::string_view rest = line;
    if (absl::ConsumePrefix(&rest, name)) return std::string(absl::StripAsciiWhitespace(rest));
  }
  return std::nullopt;
}

// The process's pid inside its own pid namespace (the last NSpid entry):
// what process.pid says in the program.
std::optional<int> InnermostPid(int pid) {
  auto field = StatusField(pid, "NSpid:");
  if (!field) return std::nullopt;
  std::vector<absl::string_view> ids = absl::StrSplit(*field, '\t', absl::SkipWhitespace());
  int inner = 0;
  if (ids.empty() || !absl::SimpleAtoi(absl::StripAsciiWhitespace(ids.back()), &inner)) {
    return std::nullopt;
  }
  return inner;
}

// The calling thread inside another process's network namespace for the
// guard's life. Threads have their own namespace: the rest of weft stays.
class NetworkNamespaceGuard {
 public:
  static absl::StatusOr<std::unique_ptr<NetworkNamespaceGuard>> Enter(int pid) {
    const int own = open("/proc/thread-self/ns/net", O_RDONLY | O_CLOEXEC);
    if (own < 0) {
      return absl::InternalError(
          absl::StrCat("cannot open weft's network namespace: ", std::strerror(errno)));
    }
    std::unique_ptr<NetworkNamespaceGuard> guard(new NetworkNamespaceGuard(own));
    const std::string target_path = absl::StrCat("/proc/", pid, "/ns/net");
    struct stat mine = {};
    struct stat theirs = {};
    if (fstat(own, &mine) != 0 || stat(target_path.c_str(), &theirs) != 0) {
      return absl::NotFoundError(absl::StrCat("process ", pid, " is gone"));
    }
    if (mine.st_ino == theirs.st_ino && mine.st_dev == theirs.st_dev) return guard;
    const int target = open(target_path.c_str(), O_RDONLY | O_CLOEXEC);
    if (target < 0 || setns(target, CLONE_NEWNET) != 0) {
      const int error = errno;
      if (target >= 0) close(target);
      return absl::PermissionDeniedError(
          absl::StrCat("cannot enter the network namespace of process ", pid, ": ",
                       std::strerror(error), " (needs CAP_SYS_ADMIN)"));
    }
    close(target);
    guard->entered_ = true;
    return guard;
  }
  ~NetworkNamespaceGuard() {
    if (entered_) (void)setns(own_, CLONE_NEWNET);
    close(own_);
  }

 private:
  explicit NetworkNamespaceGuard(int own) : own_(own) {}
  int own_;
  bool entered_ = false;
};

bool WaitForPort(uint16_t port, bool open, absl::Duration wait) {
  const absl::Time deadline = absl::Now() + wait;
  while (true) {
    if (LoopbackPortAccepts(port, absl::Milliseconds(200)) == open) return true;
    if (absl::Now() >= deadline) return false;
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
}

// Opens the process's inspector, evaluates `expression`, closes the
// inspector; the expression's value as a string.
absl::StatusOr<std::string> EvaluateThroughInspector(const NodeTarget& target,
                                                     const InjectorOptions& options,
                                                     const std::string& expression) {
  if (auto st = CheckSignalIsOnlyForTheInspector(target); !st.ok()) return st;
  const auto inner_pid = InnermostPid(target.pid);
  if (!inner_pid) return absl::NotFoundError(absl::StrCat("process ", target.pid, " is gone"));
  auto netns = NetworkNamespaceGuard::Enter(target.pid);
  if (!netns.ok()) return netns.status();
  const uint16_t port = options.inspector_port;
  if (LoopbackPortAccepts(port, absl::Milliseconds(200))) {
    return absl::FailedPreconditionError(absl::StrCat(
        "127.0.0.1:", port, " in the network namespace of process ", target.pid,
        " is already in use (an inspector started with --inspect, or another program): weft "
        "does not open a second one"));
  }
  if (kill(target.pid, SIGUSR1) != 0) {
    return absl::NotFoundError(
        absl::StrCat("cannot signal process ", target.pid, ": ", std::strerror(errno)));
  }
  if (!WaitForPort(port, /*open=*/true, options.open_wait)) {
    return absl::DeadlineExceededError(
        absl::StrCat("process ", target.pid, " did not open its inspector on 127.0.0.1:", port,
                     " within ", absl::FormatDuration(options.open_wait), " of SIGUSR1"));
  }
  absl::StatusOr<std::string> outcome;
  {
    auto client = InspectorClient::Connect(port, options.step_timeout, options.on_own_connection);
    if (!client.ok()) {
      outcome = client.status();
    } else if (auto pid = (*client)->Evaluate("process.pid");
               !pid.ok() || !pid->is_number_integer() || pid->get<int>() != *inner_pid) {
      // Someone else's inspector opened on the port in the meantime: leave it.
      return absl::AbortedError(absl::StrCat(
          "the inspector on 127.0.0.1:", port, " is not process ", target.pid,
          "'s (it says process.pid = ", pid.ok() ? pid->dump() : pid.status().ToString(), ")"));
    } else if (auto value = (*client)->Evaluate(expression); !value.ok()) {
      outcome = value.status();
    } else {
      outcome = value->is_string() ? value->get<std::string>() : value->dump();
    }
    if (client.ok()) (void)(*client)->EvaluateAndLeave("process._debugEnd()");
  }
  if (!WaitForPort(port, /*open=*/false, absl::Seconds(1))) {
    // Once more on a new connection: the first may have been cut short.
    if (auto again =
            InspectorClient::Connect(port, options.step_timeout, options.on_own_connection);
        again.ok()) {
      (void)(*again)->EvaluateAndLeave("process._debugEnd()");
    }
    if (!WaitForPort(port, /*open=*/false, absl::Seconds(1))) {
      return absl::InternalError(
          absl::StrCat("process ", target.pid, "'s inspector stays open on 127.0.0.1:", port,
                       " (weft could not close it; it closes when the process restarts)",
                       outcome.ok() ? "" : absl::StrCat("; and: ", outcome.status().message())));
    }
  }
  return outcome;
}

}  // namespace

const std::string& HookSource() {
  static const std::string source(kWeftNodeAgentSource);
  return source;
}

absl::Status CheckSignalIsOnlyForTheInspector(const NodeTarget& target) {
  const auto caught = StatusField(target.pid, "SigCgt:");
  uint64_t mask = 0;
  if (!caught || !absl::SimpleHexAtoi(*caught, &mask)) {
    return absl::NotFoundError(absl::StrCat("process ", target.pid, " is gone"));
  }
  if (!(mask & (uint64_t{1} << (SIGUSR1 - 1)))) {
    // Unavailable: Node installs its handler a few ms after it starts, so a
    // new process may only not have it yet.
    return absl::UnavailableError(absl::StrCat(
        "process ", target.pid,
        " does not catch SIGUSR1 (started with --disable-sigusr1, still starting, or not Node.js "
        "as weft knows it): weft does not signal it"));
  }
  if (!target.signal_tree_address) {
    return absl::FailedPreconditionError(absl::StrCat(
        "cannot tell whether process ", target.pid,
        " handles SIGUSR1 itself (its executable has no uv__signal_tree symbol: stripped?): "
        "weft does not signal it"));
  }
  auto listens = UvWatchesSignal(ProcessMemory(target.pid), *target.signal_tree_address, SIGUSR1);
  if (!listens.ok()) {
    return absl::FailedPreconditionError(
        absl::StrCat("cannot tell whether process ", target.pid, " handles SIGUSR1 itself (",
                     listens.status().message(), "): weft does not signal it"));
  }
  if (*listens) {
    return absl::FailedPreconditionError(
        absl::StrCat("process ", target.pid,
                     " handles SIGUSR1 itself (process.on('SIGUSR1')): weft does not signal it"));
  }
  return absl::OkStatus();
}

absl::StatusOr<std::string> InstallHook(const NodeTarget& target, const InjectorOptions& options) {
  return EvaluateThroughInspector(target, options, HookSource());
}

absl::StatusOr<std::string> UninstallHook(const NodeTarget& target,
                                          const InjectorOptions& options) {
  return EvaluateThroughInspector(target, options, kUninstall);
}

}  // namespace weft::nodejs
