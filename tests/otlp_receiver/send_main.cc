// weft-otlp-send: exports the fixture spans with the OTLP exporter configured
// from the OTEL_* environment, then prints the exporter's counters as JSON.
// --print-expected prints the fixture as the JSON lines a receiver should log.
#include <cstdio>
#include <iostream>

#include <CLI/CLI.hpp>
#include <nlohmann/json.hpp>

#include "exporters/otlp/otlp_exporter.h"
#include "tests/otlp_receiver/fixture_spans.h"

int main(int argc, char** argv) {
  int repeat = 1;
  int shutdown_timeout_ms = 20000;
  bool print_expected = false;
  CLI::App app{"weft-otlp-send: export fixture spans via OTLP (configured by OTEL_* env)"};
  app.add_option("--repeat", repeat, "export this many copies (distinct ids)");
  app.add_option("--shutdown-timeout-ms", shutdown_timeout_ms, "deadline for the final flush");
  app.add_flag("--print-expected", print_expected, "print expected JSON lines and exit");
  CLI11_PARSE(app, argc, argv);

  if (print_expected) {
    for (int copy = 0; copy < repeat; ++copy) {
      for (const nlohmann::json& line :
           weft::testing::ExpectedJson(weft::testing::FixtureSpans(copy))) {
        std::cout << line.dump() << "\n";
      }
    }
    return 0;
  }

  absl::StatusOr<weft::OtlpConfig> config =
      weft::OtlpConfig::FromEnvironment(weft::ProcessEnvironment());
  if (!config.ok()) {
    std::cerr << "weft-otlp-send: " << config.status().message() << "\n";
    return 2;
  }
  absl::StatusOr<std::unique_ptr<weft::SpanExporter>> exporter = weft::MakeOtlpExporter(*config);
  if (!exporter.ok()) {
    std::cerr << "weft-otlp-send: " << exporter.status().message() << "\n";
    return 2;
  }
  std::cerr << "weft-otlp-send: " << config->Describe() << "\n";
  const absl::Time before = absl::Now();
  for (int copy = 0; copy < repeat; ++copy) (*exporter)->Export(weft::testing::FixtureSpans(copy));
  const absl::Duration export_call_time = absl::Now() - before;
  (*exporter)->Shutdown(absl::Now() + absl::Milliseconds(shutdown_timeout_ms));
  const weft::ExporterStats stats = (*exporter)->stats();
  nlohmann::json out = {
      {"exported", stats.spans_exported},
      {"dropped", stats.spans_dropped},
      {"failed", stats.spans_failed},
      {"rejected", stats.spans_rejected},
      {"retries", stats.retries},
      {"requests", stats.export_requests},
      {"last_error", stats.last_error},
      {"export_call_ms", absl::ToDoubleMilliseconds(export_call_time)},
  };
  std::cout << out.dump() << std::endl;
  return 0;
}
