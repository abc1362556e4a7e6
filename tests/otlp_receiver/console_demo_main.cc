// weft-console-demo: feeds the fixture spans, children first, through the real
// console exporter (background thread, system clock) to show its output.
#include <cstdio>
#include <thread>

#include "exporters/console/console_exporter.h"
#include "tests/otlp_receiver/fixture_spans.h"

int main() {
  weft::ConsoleOptions options;
  weft::ConsoleExporter exporter(options);
  for (weft::Span& span : weft::testing::FixtureSpans()) {
    exporter.Export({std::move(span)});
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  // Longer than the grace period: the background thread prints, not Shutdown.
  std::this_thread::sleep_for(std::chrono::milliseconds(800));
  const weft::ExporterStats stats = exporter.stats();
  std::fprintf(stderr, "printed %llu spans before shutdown\n",
               static_cast<unsigned long long>(stats.spans_exported));
  exporter.Shutdown(absl::Now() + absl::Seconds(1));
  return stats.spans_exported == 5 ? 0 : 1;
}
