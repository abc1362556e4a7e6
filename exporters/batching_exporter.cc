#include "exporters/batching_exporter.h"

#include <algorithm>
#include <chrono>
#include <utility>

#include "absl/strings/str_cat.h"

namespace weft {

namespace {
std::chrono::system_clock::time_point ToChrono(absl::Time t) {
  // Far-future deadlines overflow chrono arithmetic inside wait_until.
  const absl::Time cap = absl::Now() + absl::Hours(24 * 365);
  return absl::ToChronoTime(std::min(t, cap));
}
}  // namespace

BatchingExporter::BatchingExporter(std::unique_ptr<BatchSink> sink, BatchConfig config)
    : sink_(std::move(sink)), config_(config) {
  worker_ = std::thread([this] { WorkerLoop(); });
}

BatchingExporter::~BatchingExporter() { Shutdown(absl::Now() + absl::Seconds(1)); }

void BatchingExporter::Export(std::vector<Span> spans) {
  if (spans.empty()) return;
  std::lock_guard<std::mutex> lock(mu_);
  if (shutting_down_) {
    stats_.spans_dropped += spans.size();
    return;
  }
  const size_t room = config_.max_queue_size - std::min(config_.max_queue_size, queue_.size());
  const size_t taken = std::min(room, spans.size());
  const bool was_below_batch = queue_.size() < config_.max_export_batch_size;
  for (size_t i = 0; i < taken; ++i) queue_.push_back(std::move(spans[i]));
  accepted_total_ += taken;
  stats_.spans_dropped += spans.size() - taken;
  // Wake the worker only when a full batch became ready; otherwise it wakes on its timer.
  if (was_below_batch && queue_.size() >= config_.max_export_batch_size) work_cv_.notify_one();
}

bool BatchingExporter::ForceFlush(absl::Time deadline) {
  std::unique_lock<std::mutex> lock(mu_);
  const uint64_t target = accepted_total_;
  if (completed_total_ >= target) return true;
  flush_requested_ = true;
  work_cv_.notify_one();
  return done_cv_.wait_until(lock, ToChrono(deadline), [&] {
    return completed_total_ >= target || stop_worker_;
  }) && completed_total_ >= target;
}

void BatchingExporter::Shutdown(absl::Time deadline) {
  std::call_once(shutdown_once_, [&] { ShutdownOnce(deadline); });
}

void BatchingExporter::ShutdownOnce(absl::Time deadline) {
  {
    std::unique_lock<std::mutex> lock(mu_);
    shutting_down_ = true;
    shutdown_deadline_ = deadline;
    flush_requested_ = true;
    work_cv_.notify_one();
    const uint64_t target = accepted_total_;
    done_cv_.wait_until(lock, ToChrono(deadline), [&] { return completed_total_ >= target; });
    stop_worker_ = true;
    work_cv_.notify_one();
  }
  // Deadline reached with a send in flight (or nothing left): make it return now.
  sink_->Cancel();
  if (worker_.joinable()) worker_.join();
  std::lock_guard<std::mutex> lock(mu_);
  if (!queue_.empty()) {
    stats_.spans_failed += queue_.size();
    stats_.last_error = absl::StrCat(queue_.size(), " spans still queued at the shutdown deadline");
    completed_total_ += queue_.size();
    queue_.clear();
  }
  done_cv_.notify_all();
}

ExporterStats BatchingExporter::stats() const {
  std::lock_guard<std::mutex> lock(mu_);
  return stats_;
}

size_t BatchingExporter::queued_for_test() const {
  std::lock_guard<std::mutex> lock(mu_);
  return queue_.size();
}

void BatchingExporter::Record(const SendOutcome& outcome, size_t batch_size) {
  stats_.retries += outcome.retries;
  stats_.export_requests += outcome.requests;
  if (outcome.status.ok()) {
    const uint64_t rejected = std::min<uint64_t>(outcome.rejected_spans, batch_size);
    stats_.spans_exported += batch_size - rejected;
    stats_.spans_rejected += rejected;
    if (rejected > 0) {
      stats_.last_error =
          absl::StrCat("backend rejected ", rejected, " spans: ", outcome.partial_success_message);
    }
  } else {
    stats_.spans_failed += batch_size;
    stats_.last_error = std::string(outcome.status.message());
  }
}

void BatchingExporter::WorkerLoop() {
  std::unique_lock<std::mutex> lock(mu_);
  absl::Time next_timed_export = absl::Now() + config_.schedule_delay;
  while (true) {
    work_cv_.wait_until(lock, ToChrono(next_timed_export), [&] {
      return stop_worker_ || flush_requested_ || queue_.size() >= config_.max_export_batch_size ||
             absl::Now() >= next_timed_export;
    });
    if (stop_worker_) return;
    if (queue_.empty()) {
      flush_requested_ = false;
      next_timed_export = absl::Now() + config_.schedule_delay;
      done_cv_.notify_all();
      continue;
    }
    const size_t n = std::min(queue_.size(), config_.max_export_batch_size);
    std::vector<Span> batch;
    batch.reserve(n);
    for (size_t i = 0; i < n; ++i) {
      batch.push_back(std::move(queue_.front()));
      queue_.pop_front();
    }
    const absl::Time deadline = std::min(absl::Now() + config_.export_timeout, shutdown_deadline_);
    lock.unlock();
    SendOutcome outcome = sink_->Send(batch, deadline);
    lock.lock();
    Record(outcome, batch.size());
    completed_total_ += batch.size();
    done_cv_.notify_all();
    // Keep draining without waiting while a flush is pending or a full batch waits.
    if (!flush_requested_) next_timed_export = absl::Now() + config_.schedule_delay;
  }
}

}  // namespace weft
