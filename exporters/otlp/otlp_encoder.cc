#include "exporters/otlp/otlp_encoder.h"

#include <unordered_map>

namespace weft {

namespace {

namespace collector = opentelemetry::proto::collector::trace::v1;
namespace common = opentelemetry::proto::common::v1;
namespace trace = opentelemetry::proto::trace::v1;

template <size_t N>
std::string Bytes(const std::array<uint8_t, N>& id) {
  return std::string(reinterpret_cast<const char*>(id.data()), N);
}

void SetValue(const AttributeValue& value, common::AnyValue* out) {
  std::visit(
      [out](const auto& v) {
        using T = std::decay_t<decltype(v)>;
        if constexpr (std::is_same_v<T, std::string>) {
          out->set_string_value(v);
        } else if constexpr (std::is_same_v<T, int64_t>) {
          out->set_int_value(v);
        } else if constexpr (std::is_same_v<T, double>) {
          out->set_double_value(v);
        } else {
          out->set_bool_value(v);
        }
      },
      value);
}

void FillSpan(const Span& span, trace::Span* out) {
  out->set_trace_id(Bytes(span.trace_id));
  out->set_span_id(Bytes(span.span_id));
  if (!span.IsRoot()) out->set_parent_span_id(Bytes(span.parent_span_id));
  out->set_trace_state(span.trace_state);
  out->set_flags(span.trace_flags);  // the low 8 bits are the W3C trace flags
  out->set_name(span.name);
  out->set_kind(static_cast<trace::Span::SpanKind>(span.kind));
  out->set_start_time_unix_nano(span.start_unix_nano);
  out->set_end_time_unix_nano(span.end_unix_nano);
  ToOtlpAttributes(span.attributes, out->mutable_attributes());
  if (span.status != StatusCode::kUnset || !span.status_message.empty()) {
    trace::Status* status = out->mutable_status();
    status->set_code(static_cast<trace::Status::StatusCode>(span.status));
    // The spec allows a description only with ERROR.
    if (span.status == StatusCode::kError) status->set_message(span.status_message);
  }
}

}  // namespace

void ToOtlpAttributes(const Attributes& attributes,
                      google::protobuf::RepeatedPtrField<common::KeyValue>* out) {
  out->Reserve(static_cast<int>(attributes.size()));
  for (const Attribute& attribute : attributes) {
    common::KeyValue* kv = out->Add();
    kv->set_key(attribute.key.str());
    SetValue(attribute.value, kv->mutable_value());
  }
}

void BuildExportRequest(const std::vector<Span>& spans, absl::string_view scope_version,
                        collector::ExportTraceServiceRequest* request) {
  request->Clear();
  std::unordered_map<const Resource*, trace::ScopeSpans*> scope_by_resource;
  for (const Span& span : spans) {
    const Resource* resource = span.resource.get();
    auto [it, inserted] = scope_by_resource.try_emplace(resource, nullptr);
    if (inserted) {
      trace::ResourceSpans* resource_spans = request->add_resource_spans();
      if (resource != nullptr) {
        ToOtlpAttributes(resource->attributes,
                         resource_spans->mutable_resource()->mutable_attributes());
      } else {
        resource_spans->mutable_resource();
      }
      trace::ScopeSpans* scope_spans = resource_spans->add_scope_spans();
      scope_spans->mutable_scope()->set_name(std::string(kOtlpScopeName));
      scope_spans->mutable_scope()->set_version(std::string(scope_version));
      it->second = scope_spans;
    }
    FillSpan(span, it->second->add_spans());
  }
}

}  // namespace weft
