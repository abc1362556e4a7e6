// weft::Span values -> OTLP ExportTraceServiceRequest.
#pragma once

#include <vector>
#include "absl/strings/string_view.h"

#include "agent/model/span.h"
#include "opentelemetry/proto/collector/trace/v1/trace_service.pb.h"

namespace weft {

inline constexpr absl::string_view kOtlpScopeName = "weft";

// One ResourceSpans per distinct Resource (shared_ptr identity, in order of
// first appearance; spans without a resource share one empty Resource), each
// with a single ScopeSpans named "weft" at `scope_version`. Span order is kept.
void BuildExportRequest(
    const std::vector<Span>& spans, absl::string_view scope_version,
    opentelemetry::proto::collector::trace::v1::ExportTraceServiceRequest* request);

void ToOtlpAttributes(
    const Attributes& attributes,
    google::protobuf::RepeatedPtrField<opentelemetry::proto::common::v1::KeyValue>* out);

}  // namespace weft
