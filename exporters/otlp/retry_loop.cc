#include "exporters/otlp/retry_loop.h"

#include <chrono>

#include "absl/strings/str_cat.h"

namespace weft {

RetryLoop::RetryLoop(RetryPolicy policy) : policy_(policy), rng_(std::random_device{}()) {}

SendOutcome RetryLoop::Run(
    absl::Time deadline, const std::function<AttemptResult(absl::Time attempt_deadline)>& attempt) {
  SendOutcome outcome;
  const absl::Time give_up_at = std::min(deadline, absl::Now() + policy_.max_elapsed);
  std::uniform_real_distribution<double> jitter(0.0, 1.0);
  for (int retry = 0;; ++retry) {
    AttemptResult result = attempt(give_up_at);
    ++outcome.requests;
    if (result.status.ok()) {
      outcome.status = absl::OkStatus();
      outcome.rejected_spans = result.rejected_spans;
      outcome.partial_success_message = std::move(result.partial_success_message);
      return outcome;
    }
    if (!result.retryable || cancelled_.load()) {
      outcome.status = result.status;
      return outcome;
    }
    std::optional<absl::Duration> delay =
        NextRetryDelay(policy_, retry, jitter(rng_), result.server_delay, absl::Now(), give_up_at);
    if (!delay) {
      outcome.status = absl::Status(
          result.status.code(), absl::StrCat(result.status.message(), " (gave up after ",
                                             outcome.requests, " attempts: retry time exhausted)"));
      return outcome;
    }
    if (!SleepFor(*delay)) {
      outcome.status = absl::Status(
          result.status.code(), absl::StrCat(result.status.message(), " (cancelled at shutdown)"));
      return outcome;
    }
    ++outcome.retries;
  }
}

void RetryLoop::Cancel() {
  std::lock_guard<std::mutex> lock(mu_);
  cancelled_.store(true);
  cv_.notify_all();
}

bool RetryLoop::SleepFor(absl::Duration delay) {
  std::unique_lock<std::mutex> lock(mu_);
  return !cv_.wait_for(lock, absl::ToChronoNanoseconds(delay), [&] { return cancelled_.load(); });
}

}  // namespace weft
