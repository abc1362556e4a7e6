// OTLP spans -> the JSON lines weft-otlp-receiver writes (one object per span).
#pragma once

#include <string>

#include <nlohmann/json.hpp>

#include "opentelemetry/proto/collector/trace/v1/trace_service.pb.h"

namespace weft::testing {

// Appends one JSON object per span of `request` to `lines`.
void RequestToJsonLines(
    const opentelemetry::proto::collector::trace::v1::ExportTraceServiceRequest& request,
    const std::string& transport, const std::string& compression,
    std::vector<nlohmann::json>* lines);

nlohmann::json AnyValueToJson(const opentelemetry::proto::common::v1::AnyValue& value);

}  // namespace weft::testing
