// OTEL_BSP_* settings of the batching layer.
#pragma once

#include <cstddef>
#include <functional>
#include <optional>
#include <string>
#include "absl/strings/string_view.h"

#include "absl/status/statusor.h"
#include "absl/time/time.h"

namespace weft {

// Looks up one environment variable; nullopt when unset. Injected so that
// configuration parsing is testable without touching the process environment.
using EnvLookup = std::function<std::optional<std::string>(const std::string& name)>;

// The real process environment (getenv).
EnvLookup ProcessEnvironment();

// Defaults are the OpenTelemetry SDK specification's.
struct BatchConfig {
  absl::Duration schedule_delay = absl::Milliseconds(5000);   // OTEL_BSP_SCHEDULE_DELAY
  absl::Duration export_timeout = absl::Milliseconds(30000);  // OTEL_BSP_EXPORT_TIMEOUT
  // The SDK default is 2048 per process; one node agent batches for every
  // traced process and measured drops at ~7k spans/s with it.
  size_t max_queue_size = 65536;                              // OTEL_BSP_MAX_QUEUE_SIZE
  size_t max_export_batch_size = 512;                         // OTEL_BSP_MAX_EXPORT_BATCH_SIZE

  static absl::StatusOr<BatchConfig> FromEnvironment(const EnvLookup& env);
  // Checks the relations between fields (batch <= queue, all positive).
  absl::Status Validate() const;
};

// Shared env-value parsers; errors name the variable and say how to fix it.
absl::StatusOr<std::optional<int64_t>> ParseNonNegativeIntEnv(const EnvLookup& env,
                                                              absl::string_view name,
                                                              absl::string_view unit_hint,
                                                              absl::string_view example);
absl::StatusOr<std::optional<bool>> ParseBoolEnv(const EnvLookup& env, absl::string_view name);

}  // namespace weft
