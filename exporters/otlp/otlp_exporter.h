// Factory for the OTLP trace exporter (gRPC or HTTP/protobuf, batched).
#pragma once

#include <memory>

#include "absl/status/statusor.h"
#include "exporters/exporter.h"
#include "exporters/otlp/otlp_config.h"

namespace weft {

// Builds the transport `config` asks for behind the OTEL_BSP_* batching layer.
// Errors: invalid endpoint, unreadable certificate, invalid gRPC header names.
absl::StatusOr<std::unique_ptr<SpanExporter>> MakeOtlpExporter(const OtlpConfig& config);

}  // namespace weft
