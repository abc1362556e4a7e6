#include "exporters/console/console_exporter.h"

#include <unistd.h>

#include <chrono>
#include <cstdlib>

namespace weft {

bool WantsColor(FILE* out) {
  const char* no_color = std::getenv("NO_COLOR");
  if (no_color != nullptr && no_color[0] != '\0') return false;
  return out != nullptr && isatty(fileno(out)) == 1;
}

ConsoleExporter::ConsoleExporter(ConsoleOptions options)
    : options_(std::move(options)),
      clock_(options_.clock ? options_.clock : std::make_shared<SystemClock>()),
      buffer_(options_.buffer) {
  if (options_.out == nullptr) options_.out = stdout;
  const bool color = options_.color.value_or(WantsColor(options_.out));
  options_.render.color = color;
  options_.render.unicode = options_.unicode.value_or(color);
  if (options_.poll_interval > absl::ZeroDuration()) {
    poller_ = std::thread([this] { PollLoop(); });
  }
}

ConsoleExporter::~ConsoleExporter() { Shutdown(absl::Now() + absl::Seconds(1)); }

void ConsoleExporter::Export(std::vector<Span> spans) {
  if (spans.empty()) return;
  std::lock_guard<std::mutex> lock(mu_);
  if (shut_down_) {
    stats_.spans_dropped += spans.size();
    return;
  }
  buffer_.Add(std::move(spans), clock_->Now());
}

void ConsoleExporter::Poll() {
  std::vector<ReadyTrace> ready;
  {
    std::lock_guard<std::mutex> lock(mu_);
    ready = buffer_.TakeReady(clock_->Now());
  }
  Print(std::move(ready));
}

bool ConsoleExporter::ForceFlush(absl::Time) {
  std::vector<ReadyTrace> all;
  {
    std::lock_guard<std::mutex> lock(mu_);
    all = buffer_.TakeAll();
  }
  Print(std::move(all));
  return true;
}

void ConsoleExporter::Shutdown(absl::Time deadline) {
  std::call_once(shutdown_once_, [&] { ShutdownOnce(deadline); });
}

void ConsoleExporter::ShutdownOnce(absl::Time deadline) {
  {
    std::lock_guard<std::mutex> lock(thread_mu_);
    stop_thread_ = true;
    thread_cv_.notify_all();
  }
  if (poller_.joinable()) poller_.join();
  ForceFlush(deadline);
  std::lock_guard<std::mutex> lock(mu_);
  shut_down_ = true;
}

ExporterStats ConsoleExporter::stats() const {
  std::lock_guard<std::mutex> lock(mu_);
  return stats_;
}

void ConsoleExporter::Print(std::vector<ReadyTrace> traces) {
  if (traces.empty()) return;
  uint64_t printed_spans = 0;
  uint64_t incomplete = 0;
  {
    std::lock_guard<std::mutex> lock(print_mu_);
    for (const ReadyTrace& trace : traces) {
      const std::string text = RenderTrace(trace, options_.render);
      std::fwrite(text.data(), 1, text.size(), options_.out);
      printed_spans += trace.spans.size();
      if (trace.reason == ReadyTrace::Reason::kTimedOut ||
          trace.reason == ReadyTrace::Reason::kEvicted ||
          trace.reason == ReadyTrace::Reason::kFlushed) {
        ++incomplete;
      }
    }
    std::fflush(options_.out);
  }
  std::lock_guard<std::mutex> lock(mu_);
  stats_.spans_exported += printed_spans;
  stats_.traces_incomplete += incomplete;
}

void ConsoleExporter::PollLoop() {
  std::unique_lock<std::mutex> lock(thread_mu_);
  while (!stop_thread_) {
    thread_cv_.wait_for(lock, absl::ToChronoNanoseconds(options_.poll_interval),
                        [&] { return stop_thread_; });
    if (stop_thread_) break;
    lock.unlock();
    Poll();
    lock.lock();
  }
}

}  // namespace weft
