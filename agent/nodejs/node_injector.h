// Runs weft's hook (weft_node_agent.js) inside a Node.js process through its
// inspector, and takes it out again. A Node.js process opens its inspector
// on 127.0.0.1:9229 of its network namespace when it receives SIGUSR1; weft
// sends that signal only when nothing else would see it, evaluates the hook,
// and closes the inspector again (process._debugEnd) at once.
//
// Blocking: each call takes up to a few seconds. Call it from a worker
// thread; it enters the target's network namespace on the calling thread
// only, and leaves it before returning.
#pragma once

#include <cstdint>
#include <functional>
#include <optional>
#include <string>

#include "absl/status/statusor.h"
#include "absl/time/time.h"

namespace weft::nodejs {

struct InjectorOptions {
  uint16_t inspector_port = 9229;                  // Node's default; SIGUSR1 always uses it
  absl::Duration step_timeout = absl::Seconds(2);  // each inspector exchange
  absl::Duration open_wait = absl::Seconds(3);     // for the inspector to open after SIGUSR1
  // Told the local port of each connection weft opens to an inspector, before
  // it sends anything on it (see InspectorClient).
  std::function<void(uint16_t local_port)> on_own_connection;
};

// What weft knows of a Node.js process before it signals it.
struct NodeTarget {
  int pid = 0;
  // Runtime address of libuv's uv__signal_tree in the process; nothing when
  // the executable's symbol table lacks it (then weft cannot check, and does
  // not signal).
  std::optional<uint64_t> signal_tree_address;
};

// Why a process was not signalled (kFailedPrecondition; kUnavailable when it
// does not catch SIGUSR1 yet, as in its first milliseconds) or what went
// wrong after it was (other codes). On success, the hook's own answer:
// "installed", "already" (a hook was there), or for Uninstall "uninstalled"
// / "absent".
absl::StatusOr<std::string> InstallHook(const NodeTarget& target, const InjectorOptions& options);
absl::StatusOr<std::string> UninstallHook(const NodeTarget& target, const InjectorOptions& options);

// The checks made before SIGUSR1 is sent, exposed for tests: the process
// catches SIGUSR1 (Node's inspector handler is installed) and no libuv
// signal watcher of the program listens for it.
absl::Status CheckSignalIsOnlyForTheInspector(const NodeTarget& target);

// The hook's source, as evaluated in the program.
const std::string& HookSource();

}  // namespace weft::nodejs
