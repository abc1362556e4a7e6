// The retry loop both OTLP transports share: attempt, classify, back off, repeat.
#pragma once

#include <atomic>
#include <condition_variable>
#include <functional>
#include <mutex>
#include <optional>
#include <random>
#include <string>

#include "absl/status/status.h"
#include "absl/time/time.h"
#include "exporters/batching_exporter.h"
#include "exporters/otlp/retry_policy.h"

namespace weft {

// What one request ended with.
struct AttemptResult {
  absl::Status status;  // OK: accepted
  bool retryable = false;
  std::optional<absl::Duration> server_delay;  // Retry-After / RetryInfo
  uint64_t rejected_spans = 0;
  std::string partial_success_message;
};

class RetryLoop {
 public:
  explicit RetryLoop(RetryPolicy policy);

  // Calls `attempt(attempt_deadline)` until it succeeds, fails for good, or the
  // next wait would pass min(deadline, start + policy.max_elapsed).
  SendOutcome Run(absl::Time deadline,
                  const std::function<AttemptResult(absl::Time attempt_deadline)>& attempt);

  // Wakes a waiting Run() and makes further waits give up (shutdown).
  void Cancel();
  bool cancelled() const { return cancelled_.load(); }

 private:
  // Sleeps for `delay` unless cancelled first; returns false when cancelled.
  bool SleepFor(absl::Duration delay);

  const RetryPolicy policy_;
  std::mt19937_64 rng_;
  std::atomic<bool> cancelled_{false};
  std::mutex mu_;
  std::condition_variable cv_;
};

}  // namespace weft
