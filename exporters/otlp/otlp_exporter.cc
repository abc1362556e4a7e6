#include "exporters/otlp/otlp_exporter.h"

#include "exporters/batching_exporter.h"
#include "exporters/otlp/grpc_sink.h"
#include "exporters/otlp/http_sink.h"

namespace weft {

absl::StatusOr<std::unique_ptr<SpanExporter>> MakeOtlpExporter(const OtlpConfig& config) {
  OtlpConfig effective = config;
  if (effective.scope_version().empty()) effective.SetScopeVersion(WEFT_OTLP_VERSION);
  std::unique_ptr<BatchSink> sink;
  if (effective.protocol() == OtlpProtocol::kGrpc) {
    absl::StatusOr<std::unique_ptr<OtlpGrpcSink>> grpc = OtlpGrpcSink::Create(effective);
    if (!grpc.ok()) return grpc.status();
    sink = *std::move(grpc);
  } else {
    absl::StatusOr<std::unique_ptr<OtlpHttpSink>> http = OtlpHttpSink::Create(effective);
    if (!http.ok()) return http.status();
    sink = *std::move(http);
  }
  return std::unique_ptr<SpanExporter>(
      std::make_unique<BatchingExporter>(std::move(sink), effective.batch()));
}

}  // namespace weft
