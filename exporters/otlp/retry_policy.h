// When and how long the OTLP exporters wait before repeating a failed export.
// Pure functions: every decision is testable without a network or a clock.
#pragma once

#include <optional>
#include "absl/strings/string_view.h"

#include "absl/time/time.h"

namespace weft {

struct RetryPolicy {
  absl::Duration initial_backoff = absl::Seconds(1);
  absl::Duration max_backoff = absl::Seconds(5);
  double multiplier = 1.5;
  // Upper bound on the time one batch may spend in retries (the batch export
  // timeout bounds it too, whichever is earlier).
  absl::Duration max_elapsed = absl::Seconds(30);
};

// OTLP/gRPC: UNAVAILABLE, CANCELLED, DEADLINE_EXCEEDED, ABORTED, OUT_OF_RANGE
// and DATA_LOSS are transient; RESOURCE_EXHAUSTED only when the server sent
// RetryInfo (it promises capacity later). `code` is a grpc::StatusCode value.
bool IsRetryableGrpcCode(int code, bool has_retry_info);

// OTLP/HTTP: 429, 502, 503 and 504 are transient; everything else is final.
bool IsRetryableHttpStatus(int status);

// The exponential backoff before retry number `attempt` (0 = first retry):
// min(max_backoff, initial * multiplier^attempt), scaled by a jitter factor in
// [0.5, 1.0] taken from `jitter_fraction` (in [0, 1)).
absl::Duration BackoffDelay(const RetryPolicy& policy, int attempt, double jitter_fraction);

// Retry-After is either delay-seconds or an HTTP-date (RFC 9110). nullopt when
// absent or unparseable; dates in the past give zero.
std::optional<absl::Duration> ParseRetryAfter(absl::string_view value, absl::Time now);

// How long to wait before the next attempt, or nullopt to give up because
// waiting would run past `give_up_at`. A server-provided delay wins over the
// computed backoff.
std::optional<absl::Duration> NextRetryDelay(const RetryPolicy& policy, int attempt,
                                             double jitter_fraction,
                                             std::optional<absl::Duration> server_delay,
                                             absl::Time now, absl::Time give_up_at);

}  // namespace weft
