#include "exporters/console/console_exporter.h"

#include <cstdio>

#include <gtest/gtest.h>

namespace weft {
namespace {

class FakeClock : public Clock {
 public:
  absl::Time Now() const override { return now_; }
  void Advance(absl::Duration d) { now_ += d; }

 private:
  absl::Time now_ = absl::FromUnixSeconds(1'000'000);
};

std::string ReadAll(FILE* file) {
  std::fflush(file);
  std::rewind(file);
  std::string out;
  char buffer[4096];
  size_t n;
  while ((n = std::fread(buffer, 1, sizeof(buffer), file)) > 0) out.append(buffer, n);
  return out;
}

Span MakeSpan(uint8_t trace, uint8_t id, uint8_t parent, const char* name) {
  Span span;
  span.trace_id.fill(trace);
  span.span_id.fill(id);
  if (parent != 0) span.parent_span_id.fill(parent);
  span.kind = parent == 0 ? SpanKind::kServer : SpanKind::kClient;
  span.name = name;
  span.start_unix_nano = 1'000'000'000ULL * id;
  span.end_unix_nano = span.start_unix_nano + 1'000'000;
  return span;
}

struct Fixture {
  FILE* out = std::tmpfile();
  std::shared_ptr<FakeClock> clock = std::make_shared<FakeClock>();
  std::unique_ptr<ConsoleExporter> exporter;
  Fixture() {
    ConsoleOptions options;
    options.out = out;
    options.clock = clock;
    options.poll_interval = absl::ZeroDuration();  // the test drives Poll()
    options.buffer.grace = absl::Milliseconds(300);
    exporter = std::make_unique<ConsoleExporter>(options);
  }
  ~Fixture() {
    exporter.reset();
    std::fclose(out);
  }
};

TEST(ConsoleExporter, PrintsATraceOnlyAfterTheGracePeriod) {
  Fixture f;
  f.exporter->Export({MakeSpan(1, 2, 1, "child")});
  f.exporter->Export({MakeSpan(1, 1, 0, "root")});
  f.exporter->Poll();
  f.clock->Advance(absl::Milliseconds(299));
  f.exporter->Poll();
  EXPECT_EQ(ReadAll(f.out), "");
  f.clock->Advance(absl::Milliseconds(1));
  f.exporter->Poll();
  const std::string text = ReadAll(f.out);
  EXPECT_NE(text.find("trace 01010101010101010101010101010101  2 spans"), std::string::npos)
      << text;
  EXPECT_LT(text.find("root"), text.find("child"));
  EXPECT_EQ(text.find("\033["), std::string::npos) << "no colours on a non-terminal";
  EXPECT_EQ(f.exporter->stats().spans_exported, 2u);
}

TEST(ConsoleExporter, ShutdownPrintsIncompleteTracesAndCountsThem) {
  Fixture f;
  f.exporter->Export({MakeSpan(2, 2, 1, "lonely child")});
  f.exporter->Shutdown(absl::InfiniteFuture());
  const std::string text = ReadAll(f.out);
  EXPECT_NE(text.find("incomplete"), std::string::npos) << text;
  EXPECT_NE(text.find("[orphan: parent 0101010101010101 not seen]"), std::string::npos) << text;
  EXPECT_EQ(f.exporter->stats().traces_incomplete, 1u);
  f.exporter->Export({MakeSpan(3, 1, 0, "after shutdown")});
  EXPECT_EQ(f.exporter->stats().spans_dropped, 1u);
}

TEST(ConsoleExporter, TimedOutTraceIsPrintedWithoutShutdown) {
  Fixture f;
  f.exporter->Export({MakeSpan(4, 2, 1, "waiting")});
  f.clock->Advance(absl::Seconds(29));
  f.exporter->Poll();
  EXPECT_EQ(ReadAll(f.out), "");
  f.clock->Advance(absl::Seconds(1));
  f.exporter->Poll();
  EXPECT_NE(ReadAll(f.out).find("root never arrived"), std::string::npos);
  EXPECT_EQ(f.exporter->stats().traces_incomplete, 1u);
}

}  // namespace
}  // namespace weft
