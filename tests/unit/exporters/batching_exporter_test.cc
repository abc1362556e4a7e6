#include "exporters/batching_exporter.h"

#include <condition_variable>
#include <mutex>

#include <gtest/gtest.h>

namespace weft {
namespace {

std::vector<Span> MakeSpans(size_t n) {
  std::vector<Span> spans(n);
  for (size_t i = 0; i < n; ++i) spans[i].name = "span" + std::to_string(i);
  return spans;
}

// A sink whose Send() can be held at a gate, recording what it got.
class FakeSink : public BatchSink {
 public:
  struct Shared {
    std::mutex mu;
    std::condition_variable cv;
    bool gate_open = true;
    int sends_entered = 0;
    bool cancelled = false;
    std::vector<size_t> batch_sizes;
    SendOutcome next_outcome;
  };

  explicit FakeSink(std::shared_ptr<Shared> shared) : shared_(std::move(shared)) {}

  SendOutcome Send(const std::vector<Span>& batch, absl::Time) override {
    std::unique_lock<std::mutex> lock(shared_->mu);
    ++shared_->sends_entered;
    shared_->cv.notify_all();
    shared_->cv.wait(lock, [&] { return shared_->gate_open || shared_->cancelled; });
    shared_->batch_sizes.push_back(batch.size());
    if (shared_->cancelled) {
      SendOutcome outcome;
      outcome.status = absl::CancelledError("cancelled");
      return outcome;
    }
    return shared_->next_outcome;
  }

  void Cancel() override {
    std::lock_guard<std::mutex> lock(shared_->mu);
    shared_->cancelled = true;
    shared_->cv.notify_all();
  }

 private:
  std::shared_ptr<Shared> shared_;
};

BatchConfig Config(size_t queue, size_t batch) {
  BatchConfig config;
  config.max_queue_size = queue;
  config.max_export_batch_size = batch;
  config.schedule_delay = absl::Hours(1);  // only full batches and flushes trigger sends
  return config;
}

const absl::Time kForever = absl::InfiniteFuture();

TEST(BatchingExporter, FlushSendsPartialBatchesInBatchSizeChunks) {
  auto shared = std::make_shared<FakeSink::Shared>();
  shared->next_outcome.requests = 1;
  BatchingExporter exporter(std::make_unique<FakeSink>(shared), Config(100, 2));
  exporter.Export(MakeSpans(5));
  ASSERT_TRUE(exporter.ForceFlush(kForever));
  {
    std::lock_guard<std::mutex> lock(shared->mu);
    size_t total = 0;
    for (size_t size : shared->batch_sizes) {
      EXPECT_LE(size, 2u);
      total += size;
    }
    EXPECT_EQ(total, 5u);
  }
  ExporterStats stats = exporter.stats();
  EXPECT_EQ(stats.spans_exported, 5u);
  EXPECT_EQ(stats.spans_dropped, 0u);
  EXPECT_EQ(stats.export_requests, 3u);
  exporter.Shutdown(kForever);
}

TEST(BatchingExporter, FullQueueDropsAndCountsWithoutBlocking) {
  auto shared = std::make_shared<FakeSink::Shared>();
  shared->gate_open = false;
  BatchingExporter exporter(std::make_unique<FakeSink>(shared), Config(4, 2));
  exporter.Export(MakeSpans(2));  // a full batch: the worker takes it and blocks in Send
  {
    std::unique_lock<std::mutex> lock(shared->mu);
    shared->cv.wait(lock, [&] { return shared->sends_entered == 1; });
  }
  exporter.Export(MakeSpans(3));
  exporter.Export(MakeSpans(3));  // queue holds 4: two of these are dropped
  EXPECT_EQ(exporter.queued_for_test(), 4u);
  EXPECT_EQ(exporter.stats().spans_dropped, 2u);
  {
    std::lock_guard<std::mutex> lock(shared->mu);
    shared->gate_open = true;
    shared->cv.notify_all();
  }
  ASSERT_TRUE(exporter.ForceFlush(kForever));
  ExporterStats stats = exporter.stats();
  EXPECT_EQ(stats.spans_exported, 6u);
  EXPECT_EQ(stats.spans_dropped, 2u);
  exporter.Shutdown(kForever);
}

TEST(BatchingExporter, CountsFailuresRejectionsAndRetries) {
  auto shared = std::make_shared<FakeSink::Shared>();
  BatchingExporter exporter(std::make_unique<FakeSink>(shared), Config(100, 10));
  shared->next_outcome.status = absl::UnavailableError("collector down");
  shared->next_outcome.retries = 3;
  exporter.Export(MakeSpans(4));
  ASSERT_TRUE(exporter.ForceFlush(kForever));
  {
    std::lock_guard<std::mutex> lock(shared->mu);
    shared->next_outcome = SendOutcome{};
    shared->next_outcome.rejected_spans = 2;
    shared->next_outcome.partial_success_message = "too big";
  }
  exporter.Export(MakeSpans(5));
  ASSERT_TRUE(exporter.ForceFlush(kForever));
  ExporterStats stats = exporter.stats();
  EXPECT_EQ(stats.spans_failed, 4u);
  EXPECT_EQ(stats.retries, 3u);
  EXPECT_EQ(stats.spans_rejected, 2u);
  EXPECT_EQ(stats.spans_exported, 3u);
  EXPECT_NE(stats.last_error.find("too big"), std::string::npos);
  exporter.Shutdown(kForever);
}

TEST(BatchingExporter, ShutdownFlushesQueuedSpans) {
  auto shared = std::make_shared<FakeSink::Shared>();
  BatchingExporter exporter(std::make_unique<FakeSink>(shared), Config(100, 50));
  exporter.Export(MakeSpans(7));
  exporter.Shutdown(kForever);
  EXPECT_EQ(exporter.stats().spans_exported, 7u);
  exporter.Export(MakeSpans(1));
  EXPECT_EQ(exporter.stats().spans_dropped, 1u) << "Export after Shutdown drops";
}

TEST(BatchingExporter, ShutdownDeadlineCancelsAStuckSend) {
  auto shared = std::make_shared<FakeSink::Shared>();
  shared->gate_open = false;  // the backend never answers
  BatchingExporter exporter(std::make_unique<FakeSink>(shared), Config(100, 2));
  exporter.Export(MakeSpans(2));
  {
    std::unique_lock<std::mutex> lock(shared->mu);
    shared->cv.wait(lock, [&] { return shared->sends_entered == 1; });
  }
  exporter.Export(MakeSpans(1));
  exporter.Shutdown(absl::Now());  // deadline already passed
  ExporterStats stats = exporter.stats();
  EXPECT_TRUE(shared->cancelled);
  EXPECT_EQ(stats.spans_failed, 3u) << "the cancelled batch and the still-queued span";
  EXPECT_EQ(stats.spans_exported, 0u);
}

}  // namespace
}  // namespace weft
