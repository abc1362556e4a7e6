#include "tests/otlp_receiver/span_json.h"

namespace weft::testing {

namespace common = opentelemetry::proto::common::v1;
namespace trace = opentelemetry::proto::trace::v1;

namespace {

std::string Hex(const std::string& bytes) {
  static constexpr char kDigits[] = "0123456789abcdef";
  std::string out;
  out.reserve(bytes.size() * 2);
  for (unsigned char c : bytes) {
    out.push_back(kDigits[c >> 4]);
    out.push_back(kDigits[c & 0xf]);
  }
  return out;
}

nlohmann::json KeyValues(const google::protobuf::RepeatedPtrField<common::KeyValue>& kvs) {
  nlohmann::json out = nlohmann::json::object();
  for (const common::KeyValue& kv : kvs) out[kv.key()] = AnyValueToJson(kv.value());
  return out;
}

const char* KindName(int kind) {
  switch (kind) {
    case trace::Span::SPAN_KIND_INTERNAL:
      return "INTERNAL";
    case trace::Span::SPAN_KIND_SERVER:
      return "SERVER";
    case trace::Span::SPAN_KIND_CLIENT:
      return "CLIENT";
    case trace::Span::SPAN_KIND_PRODUCER:
      return "PRODUCER";
    case trace::Span::SPAN_KIND_CONSUMER:
      return "CONSUMER";
    default:
      return "UNSPECIFIED";
  }
}

const char* StatusName(int code) {
  switch (code) {
    case trace::Status::STATUS_CODE_OK:
      return "OK";
    case trace::Status::STATUS_CODE_ERROR:
      return "ERROR";
    default:
      return "UNSET";
  }
}

}  // namespace

nlohmann::json AnyValueToJson(const common::AnyValue& value) {
  switch (value.value_case()) {
    case common::AnyValue::kStringValue:
      return value.string_value();
    case common::AnyValue::kBoolValue:
      return value.bool_value();
    case common::AnyValue::kIntValue:
      return value.int_value();
    case common::AnyValue::kDoubleValue:
      return value.double_value();
    case common::AnyValue::kArrayValue: {
      nlohmann::json array = nlohmann::json::array();
      for (const common::AnyValue& v : value.array_value().values()) {
        array.push_back(AnyValueToJson(v));
      }
      return array;
    }
    case common::AnyValue::kKvlistValue:
      return KeyValues(value.kvlist_value().values());
    case common::AnyValue::kBytesValue:
      return Hex(value.bytes_value());
    default:
      return nullptr;
  }
}

void RequestToJsonLines(
    const opentelemetry::proto::collector::trace::v1::ExportTraceServiceRequest& request,
    const std::string& transport, const std::string& compression,
    std::vector<nlohmann::json>* lines) {
  for (const trace::ResourceSpans& resource_spans : request.resource_spans()) {
    const nlohmann::json resource = KeyValues(resource_spans.resource().attributes());
    for (const trace::ScopeSpans& scope_spans : resource_spans.scope_spans()) {
      for (const trace::Span& span : scope_spans.spans()) {
        lines->push_back({
            {"transport", transport},
            {"compression", compression},
            {"trace_id", Hex(span.trace_id())},
            {"span_id", Hex(span.span_id())},
            {"parent_span_id", Hex(span.parent_span_id())},
            {"name", span.name()},
            {"kind", KindName(span.kind())},
            {"start_unix_nano", span.start_time_unix_nano()},
            {"end_unix_nano", span.end_time_unix_nano()},
            {"status_code", StatusName(span.status().code())},
            {"status_message", span.status().message()},
            {"trace_state", span.trace_state()},
            {"flags", span.flags()},
            {"attributes", KeyValues(span.attributes())},
            {"resource", resource},
            {"scope", scope_spans.scope().name()},
            {"scope_version", scope_spans.scope().version()},
        });
      }
    }
  }
}

}  // namespace weft::testing
