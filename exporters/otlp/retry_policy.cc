#include "exporters/otlp/retry_policy.h"

#include <algorithm>
#include <cmath>
#include <string>

#include "absl/strings/ascii.h"
#include "absl/strings/numbers.h"

namespace weft {

namespace {
// grpc::StatusCode values, restated so this file needs no gRPC headers.
enum GrpcCode : int {
  kCancelled = 1,
  kDeadlineExceeded = 4,
  kResourceExhausted = 8,
  kAborted = 10,
  kOutOfRange = 11,
  kUnavailable = 14,
  kDataLoss = 15,
};
}  // namespace

bool IsRetryableGrpcCode(int code, bool has_retry_info) {
  switch (code) {
    case kCancelled:
    case kDeadlineExceeded:
    case kAborted:
    case kOutOfRange:
    case kUnavailable:
    case kDataLoss:
      return true;
    case kResourceExhausted:
      return has_retry_info;
    default:
      return false;
  }
}

bool IsRetryableHttpStatus(int status) {
  return status == 429 || status == 502 || status == 503 || status == 504;
}

absl::Duration BackoffDelay(const RetryPolicy& policy, int attempt, double jitter_fraction) {
  double seconds = absl::ToDoubleSeconds(policy.initial_backoff) *
                   std::pow(policy.multiplier, std::max(0, attempt));
  seconds = std::min(seconds, absl::ToDoubleSeconds(policy.max_backoff));
  jitter_fraction = std::clamp(jitter_fraction, 0.0, 1.0);
  return absl::Seconds(seconds * (0.5 + 0.5 * jitter_fraction));
}

std::optional<absl::Duration> ParseRetryAfter(absl::string_view value, absl::Time now) {
  std::string text(absl::StripAsciiWhitespace(value));
  if (text.empty()) return std::nullopt;
  int64_t seconds = 0;
  if (absl::SimpleAtoi(text, &seconds)) {
    if (seconds < 0) return std::nullopt;
    return absl::Seconds(seconds);
  }
  absl::Time when;
  std::string error;
  // IMF-fixdate, the form RFC 9110 requires senders to use.
  if (!absl::ParseTime("%a, %d %b %Y %H:%M:%S GMT", text, absl::UTCTimeZone(), &when, &error)) {
    return std::nullopt;
  }
  return std::max(absl::ZeroDuration(), when - now);
}

std::optional<absl::Duration> NextRetryDelay(const RetryPolicy& policy, int attempt,
                                             double jitter_fraction,
                                             std::optional<absl::Duration> server_delay,
                                             absl::Time now, absl::Time give_up_at) {
  const absl::Duration delay =
      server_delay ? *server_delay : BackoffDelay(policy, attempt, jitter_fraction);
  if (now + delay >= give_up_at) return std::nullopt;
  return delay;
}

}  // namespace weft
