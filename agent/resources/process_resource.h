// The OpenTelemetry resource of one traced process.
//
// Precedence, lowest to highest (what a process says about itself wins, as it
// would if an OpenTelemetry SDK ran inside it):
//   1. derived: service.name from the program (see program_identity.h),
//      host.name, service.instance.id;
//   2. the agent's own OTEL_RESOURCE_ATTRIBUTES (deployment-wide facts such as
//      deployment.environment; it cannot set service.instance.id, which must
//      differ per process);
//   3. the process's OTEL_RESOURCE_ATTRIBUTES;
//   4. the process's OTEL_SERVICE_NAME, for service.name only (the SDK
//      specification ranks it above service.name in OTEL_RESOURCE_ATTRIBUTES).
// Measured facts (process.*, telemetry.sdk.*) are never overridden; other
// keys from either variable are added. A malformed OTEL_RESOURCE_ATTRIBUTES is
// discarded whole, as the SDK specification says.
#pragma once

#include <filesystem>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "agent/model/span.h"
#include "agent/resources/otel_env.h"
#include "symbolizer/proc/process_info.h"

namespace weft::resources {

struct AgentResourceConfig {
  std::string host_name;  // host.name
  // /proc/sys/kernel/random/boot_id: with it, service.instance.id stays
  // unique across reboots that reuse (pid, start time).
  std::string boot_id;
  KeyValues agent_attributes;  // the agent's own OTEL_RESOURCE_ATTRIBUTES
  bool resolve_owner = true;   // process.owner by getpwuid; else omitted

  // Host name, boot id and OTEL_RESOURCE_ATTRIBUTES of the running agent. A
  // malformed OTEL_RESOURCE_ATTRIBUTES is an error: the operator wrote it.
  static absl::StatusOr<AgentResourceConfig> FromEnvironment(
      const std::filesystem::path& proc_root = "/proc");
};

// Never null. Problems that did not stop the build (a malformed variable in
// the process's environment) are appended to `warnings` when given.
std::shared_ptr<const Resource> BuildProcessResource(const proc::ProcessInfo& process,
                                                     const AgentResourceConfig& config,
                                                     std::vector<std::string>* warnings = nullptr);

// For a pid whose /proc entry could not be read (exited, or no permission):
// service.name "unknown_service", process.pid, host.name, telemetry.sdk.*.
std::shared_ptr<const Resource> BuildFallbackResource(int pid, const AgentResourceConfig& config);

// service.instance.id for (host, boot, pid, start time): a UUIDv5 in the
// namespace the semantic conventions give.
std::string ServiceInstanceId(const AgentResourceConfig& config, int pid,
                              uint64_t start_time_ticks);

}  // namespace weft::resources
