#include "exporters/exporter_factory.h"

#include <map>

#include <gtest/gtest.h>

#include "exporters/console/console_exporter.h"

namespace weft {
namespace {

EnvLookup FakeEnv(std::map<std::string, std::string> vars) {
  return [vars = std::move(vars)](const std::string& name) -> std::optional<std::string> {
    auto it = vars.find(name);
    if (it == vars.end()) return std::nullopt;
    return it->second;
  };
}

TEST(ExporterFactory, ConsoleByDefaultOtlpWhenAnEndpointIsSet) {
  FILE* sink = std::tmpfile();
  auto exporter = MakeExporterFromEnvironment(FakeEnv({}), sink);
  ASSERT_TRUE(exporter.ok());
  EXPECT_NE(dynamic_cast<ConsoleExporter*>(exporter->get()), nullptr);
  (*exporter)->Shutdown(absl::Now());

  exporter = MakeExporterFromEnvironment(
      FakeEnv({{"OTEL_EXPORTER_OTLP_ENDPOINT", "http://127.0.0.1:1"}}), sink);
  ASSERT_TRUE(exporter.ok());
  EXPECT_EQ(dynamic_cast<ConsoleExporter*>(exporter->get()), nullptr);
  (*exporter)->Shutdown(absl::Now());
  std::fclose(sink);
}

TEST(ExporterFactory, HonoursOtelTracesExporter) {
  FILE* sink = std::tmpfile();
  auto none = MakeExporterFromEnvironment(FakeEnv({{"OTEL_TRACES_EXPORTER", "none"}}), sink);
  ASSERT_TRUE(none.ok());
  EXPECT_NE(dynamic_cast<NullExporter*>(none->get()), nullptr);

  auto both =
      MakeExporterFromEnvironment(FakeEnv({{"OTEL_TRACES_EXPORTER", "console, otlp"},
                                           {"OTEL_EXPORTER_OTLP_ENDPOINT", "http://127.0.0.1:1"}}),
                                  sink);
  ASSERT_TRUE(both.ok());
  EXPECT_NE(dynamic_cast<FanoutExporter*>(both->get()), nullptr);
  (*both)->Shutdown(absl::Now());

  auto bad = MakeExporterFromEnvironment(FakeEnv({{"OTEL_TRACES_EXPORTER", "zipkin"}}), sink);
  ASSERT_FALSE(bad.ok());
  EXPECT_NE(bad.status().message().find("use otlp, console or none"), std::string::npos);

  auto bad_otlp = MakeExporterFromEnvironment(
      FakeEnv({{"OTEL_TRACES_EXPORTER", "otlp"}, {"OTEL_EXPORTER_OTLP_TIMEOUT", "x"}}), sink);
  EXPECT_FALSE(bad_otlp.ok());
  std::fclose(sink);
}

}  // namespace
}  // namespace weft
