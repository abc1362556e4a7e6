// Picks the exporter(s) the environment asks for: console unless OTLP is configured.
#pragma once

#include <cstdio>
#include <memory>
#include <vector>

#include "absl/status/statusor.h"
#include "exporters/batch_config.h"
#include "exporters/exporter.h"

namespace weft {

// Sends every span to each of several exporters (e.g. console + OTLP).
class FanoutExporter final : public SpanExporter {
 public:
  explicit FanoutExporter(std::vector<std::unique_ptr<SpanExporter>> exporters)
      : exporters_(std::move(exporters)) {}
  void Export(std::vector<Span> spans) override;
  bool ForceFlush(absl::Time deadline) override;
  void Shutdown(absl::Time deadline) override;
  // Counters summed over the exporters; last_error is the first non-empty one.
  ExporterStats stats() const override;

 private:
  std::vector<std::unique_ptr<SpanExporter>> exporters_;
};

// Accepts and discards spans (OTEL_TRACES_EXPORTER=none).
class NullExporter final : public SpanExporter {
 public:
  void Export(std::vector<Span>) override {}
  bool ForceFlush(absl::Time) override { return true; }
  void Shutdown(absl::Time) override {}
  ExporterStats stats() const override { return {}; }
};

// OTEL_TRACES_EXPORTER=otlp|console|none (comma-separated list allowed) wins;
// unset, OTLP when OTEL_EXPORTER_OTLP_{,TRACES_}ENDPOINT is set, else the console
// printing to `console_out`.
absl::StatusOr<std::unique_ptr<SpanExporter>> MakeExporterFromEnvironment(const EnvLookup& env,
                                                                          FILE* console_out);

}  // namespace weft
