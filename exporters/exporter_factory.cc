#include "exporters/exporter_factory.h"

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "exporters/console/console_exporter.h"
#include "exporters/otlp/otlp_config.h"
#include "exporters/otlp/otlp_exporter.h"

namespace weft {

void FanoutExporter::Export(std::vector<Span> spans) {
  if (exporters_.empty()) return;
  for (size_t i = 0; i + 1 < exporters_.size(); ++i) exporters_[i]->Export(spans);
  exporters_.back()->Export(std::move(spans));
}

bool FanoutExporter::ForceFlush(absl::Time deadline) {
  bool all = true;
  for (auto& exporter : exporters_) all = exporter->ForceFlush(deadline) && all;
  return all;
}

void FanoutExporter::Shutdown(absl::Time deadline) {
  for (auto& exporter : exporters_) exporter->Shutdown(deadline);
}

ExporterStats FanoutExporter::stats() const {
  ExporterStats sum;
  for (const auto& exporter : exporters_) {
    const ExporterStats s = exporter->stats();
    sum.spans_exported += s.spans_exported;
    sum.spans_dropped += s.spans_dropped;
    sum.spans_failed += s.spans_failed;
    sum.spans_rejected += s.spans_rejected;
    sum.retries += s.retries;
    sum.export_requests += s.export_requests;
    sum.traces_incomplete += s.traces_incomplete;
    if (sum.last_error.empty()) sum.last_error = s.last_error;
  }
  return sum;
}

absl::StatusOr<std::unique_ptr<SpanExporter>> MakeExporterFromEnvironment(const EnvLookup& env,
                                                                          FILE* console_out) {
  std::vector<std::string> names;
  if (std::optional<std::string> chosen = env("OTEL_TRACES_EXPORTER")) {
    for (absl::string_view name : absl::StrSplit(*chosen, ',', absl::SkipWhitespace())) {
      names.push_back(absl::AsciiStrToLower(absl::StripAsciiWhitespace(name)));
    }
  }
  if (names.empty()) {
    names.push_back(OtlpConfig::EndpointConfigured(env) ? "otlp" : "console");
  }
  std::vector<std::unique_ptr<SpanExporter>> exporters;
  for (const std::string& name : names) {
    if (name == "none") continue;
    if (name == "console") {
      ConsoleOptions options;
      options.out = console_out;
      exporters.push_back(std::make_unique<ConsoleExporter>(options));
    } else if (name == "otlp") {
      absl::StatusOr<OtlpConfig> config = OtlpConfig::FromEnvironment(env);
      if (!config.ok()) return config.status();
      absl::StatusOr<std::unique_ptr<SpanExporter>> otlp = MakeOtlpExporter(*config);
      if (!otlp.ok()) return otlp.status();
      exporters.push_back(*std::move(otlp));
    } else {
      return absl::InvalidArgumentError(absl::StrCat("OTEL_TRACES_EXPORTER: unknown exporter '",
                                                     name, "'; use otlp, console or none"));
    }
  }
  if (exporters.empty()) return std::unique_ptr<SpanExporter>(std::make_unique<NullExporter>());
  if (exporters.size() == 1) return std::move(exporters.front());
  return std::unique_ptr<SpanExporter>(std::make_unique<FanoutExporter>(std::move(exporters)));
}

}  // namespace weft
