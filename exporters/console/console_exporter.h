// The default exporter: prints each finished trace as a tree with a waterfall.
#pragma once

#include <condition_variable>
#include <cstdio>
#include <memory>
#include <mutex>
#include <optional>
#include <thread>
#include <vector>

#include "exporters/console/clock.h"
#include "exporters/console/trace_buffer.h"
#include "exporters/console/trace_renderer.h"
#include "exporters/exporter.h"

namespace weft {

struct ConsoleOptions {
  FILE* out = stdout;  // not owned
  // nullopt: colours when `out` is a terminal and NO_COLOR is unset.
  std::optional<bool> color;
  std::optional<bool> unicode;  // nullopt: same as colour
  TraceBufferOptions buffer;
  RenderOptions render;  // color/unicode fields are overridden by the two above
  // How often the background thread looks for ready traces; zero means no
  // thread: the owner calls Poll() (tests do, with a fake clock).
  absl::Duration poll_interval = absl::Milliseconds(100);
  std::shared_ptr<const Clock> clock;  // default: system clock
};

class ConsoleExporter final : public SpanExporter {
 public:
  explicit ConsoleExporter(ConsoleOptions options);
  ~ConsoleExporter() override;

  ConsoleExporter(const ConsoleExporter&) = delete;
  ConsoleExporter& operator=(const ConsoleExporter&) = delete;

  // Only buffers (a map insert under a mutex); printing happens in Poll().
  void Export(std::vector<Span> spans) override;
  // Prints every buffered trace now, complete or not.
  bool ForceFlush(absl::Time deadline) override;
  void Shutdown(absl::Time deadline) override;
  ExporterStats stats() const override;

  // Prints the traces that are ready at the clock's current time.
  void Poll();

 private:
  void Print(std::vector<ReadyTrace> traces);
  void PollLoop();
  void ShutdownOnce(absl::Time deadline);

  ConsoleOptions options_;
  std::shared_ptr<const Clock> clock_;

  mutable std::mutex mu_;  // guards buffer_, stats_, shut_down_
  TraceBuffer buffer_;
  ExporterStats stats_;
  bool shut_down_ = false;

  std::mutex print_mu_;  // keeps whole traces together on the output

  std::mutex thread_mu_;
  std::condition_variable thread_cv_;
  bool stop_thread_ = false;
  std::once_flag shutdown_once_;
  std::thread poller_;
};

// Colour default for a stream: a terminal, and NO_COLOR not set.
bool WantsColor(FILE* out);

}  // namespace weft
