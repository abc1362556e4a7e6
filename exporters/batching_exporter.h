// A SpanExporter that queues spans and hands them, in batches, to a BatchSink
// on its own worker thread (the OpenTelemetry batch span processor, OTEL_BSP_*).
#pragma once

#include <condition_variable>
#include <cstdint>
#include <deque>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "absl/status/status.h"
#include "exporters/batch_config.h"
#include "exporters/exporter.h"

namespace weft {

// What one synchronous send of a batch ended with, retries included.
struct SendOutcome {
  absl::Status status;          // OK: the backend took the request
  uint64_t rejected_spans = 0;  // partial_success.rejected_spans
  std::string partial_success_message;
  uint64_t retries = 0;
  uint64_t requests = 0;
};

// A transport: sends one batch synchronously and retries as it sees fit.
class BatchSink {
 public:
  virtual ~BatchSink() = default;
  // Gives up at `deadline`. Called from one worker thread only.
  virtual SendOutcome Send(const std::vector<Span>& batch, absl::Time deadline) = 0;
  // Called from another thread: make a Send() in progress return promptly.
  virtual void Cancel() {}
};

class BatchingExporter final : public SpanExporter {
 public:
  // `config` must be valid (BatchConfig::Validate).
  BatchingExporter(std::unique_ptr<BatchSink> sink, BatchConfig config);
  ~BatchingExporter() override;

  BatchingExporter(const BatchingExporter&) = delete;
  BatchingExporter& operator=(const BatchingExporter&) = delete;

  void Export(std::vector<Span> spans) override;
  bool ForceFlush(absl::Time deadline) override;
  void Shutdown(absl::Time deadline) override;
  ExporterStats stats() const override;

  size_t queued_for_test() const;

 private:
  void WorkerLoop();
  void ShutdownOnce(absl::Time deadline);
  void Record(const SendOutcome& outcome, size_t batch_size);

  const std::unique_ptr<BatchSink> sink_;
  const BatchConfig config_;

  mutable std::mutex mu_;
  std::condition_variable work_cv_;  // wakes the worker
  std::condition_variable done_cv_;  // wakes ForceFlush / Shutdown waiters
  std::deque<Span> queue_;
  uint64_t accepted_total_ = 0;   // spans ever queued
  uint64_t completed_total_ = 0;  // spans ever handed to the sink and finished
  bool flush_requested_ = false;
  bool shutting_down_ = false;  // Export() drops from now on
  bool stop_worker_ = false;
  absl::Time shutdown_deadline_ = absl::InfiniteFuture();
  ExporterStats stats_;

  std::once_flag shutdown_once_;  // concurrent Shutdown() calls wait for the first
  std::thread worker_;
};

}  // namespace weft
