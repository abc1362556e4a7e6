// The hand-written OTLP encoder against the protobuf generated classes: its
// bytes must parse back into exactly the spans it was given, and match what
// the message-tree encoder serializes.
#include "exporters/otlp/otlp_wire.h"

#include <gtest/gtest.h>

#include <limits>

#include "exporters/otlp/otlp_encoder.h"

namespace weft {
namespace {

namespace collector = opentelemetry::proto::collector::trace::v1;
namespace common = opentelemetry::proto::common::v1;
namespace trace = opentelemetry::proto::trace::v1;

std::string Bytes(const uint8_t* data, size_t n) {
  return std::string(reinterpret_cast<const char*>(data), n);
}

void ExpectSameAttributes(const Attributes& want,
                          const google::protobuf::RepeatedPtrField<common::KeyValue>& got) {
  ASSERT_EQ(got.size(), static_cast<int>(want.size()));
  for (size_t i = 0; i < want.size(); ++i) {
    const common::KeyValue& kv = got[static_cast<int>(i)];
    SCOPED_TRACE(std::string(std::string_view(want[i].key)));
    EXPECT_EQ(kv.key(), std::string_view(want[i].key));
    ASSERT_TRUE(kv.has_value());
    const common::AnyValue& value = kv.value();
    if (const auto* s = std::get_if<std::string>(&want[i].value)) {
      ASSERT_EQ(value.value_case(), common::AnyValue::kStringValue);
      EXPECT_EQ(value.string_value(), *s);
    } else if (const auto* n = std::get_if<int64_t>(&want[i].value)) {
      ASSERT_EQ(value.value_case(), common::AnyValue::kIntValue);
      EXPECT_EQ(value.int_value(), *n);
    } else if (const auto* d = std::get_if<double>(&want[i].value)) {
      ASSERT_EQ(value.value_case(), common::AnyValue::kDoubleValue);
      EXPECT_EQ(value.double_value(), *d);
    } else {
      ASSERT_EQ(value.value_case(), common::AnyValue::kBoolValue);
      EXPECT_EQ(value.bool_value(), std::get<bool>(want[i].value));
    }
  }
}

void ExpectSameSpan(const Span& want, const trace::Span& got) {
  SCOPED_TRACE(want.name);
  EXPECT_EQ(got.trace_id(), Bytes(want.trace_id.data(), 16));
  EXPECT_EQ(got.span_id(), Bytes(want.span_id.data(), 8));
  if (want.IsRoot()) {
    EXPECT_TRUE(got.parent_span_id().empty());
  } else {
    EXPECT_EQ(got.parent_span_id(), Bytes(want.parent_span_id.data(), 8));
  }
  EXPECT_EQ(got.trace_state(), want.trace_state);
  EXPECT_EQ(got.flags(), want.trace_flags);
  EXPECT_EQ(got.name(), want.name);
  EXPECT_EQ(static_cast<int>(got.kind()), static_cast<int>(want.kind));
  EXPECT_EQ(got.start_time_unix_nano(), want.start_unix_nano);
  EXPECT_EQ(got.end_time_unix_nano(), want.end_unix_nano);
  ExpectSameAttributes(want.attributes, got.attributes());
  EXPECT_EQ(static_cast<int>(got.status().code()), static_cast<int>(want.status));
  EXPECT_EQ(got.status().message(),
            want.status == StatusCode::kError ? want.status_message : std::string());
  EXPECT_EQ(got.dropped_attributes_count(), 0u);
  EXPECT_EQ(got.events_size(), 0);
  EXPECT_EQ(got.links_size(), 0);
}

std::shared_ptr<const Resource> MakeResource(const std::string& service) {
  auto resource = std::make_shared<Resource>();
  resource->service_name = service;
  resource->attributes = {{"service.name", service},
                          {"process.pid", int64_t{4242}},
                          {"host.name", std::string(300, 'h')}};
  return resource;
}

// Covers every field, every value type, defaults that must be omitted and
// lengths that need multi-byte varints.
std::vector<Span> VariedSpans() {
  auto a = MakeResource("a");
  auto b = MakeResource("b");
  std::vector<Span> spans;
  for (int i = 0; i < 40; ++i) {
    Span span;
    span.trace_id.fill(static_cast<uint8_t>(0xa0 + i));
    span.span_id.fill(static_cast<uint8_t>(i + 1));
    if (i % 3 != 0) span.parent_span_id.fill(static_cast<uint8_t>(0x10 + i));
    if (i % 4 == 1) span.trace_state = "vendor=" + std::string(static_cast<size_t>(i * 7), 'v');
    span.trace_flags = static_cast<uint8_t>(i % 3);  // 0 must be omitted
    span.name = i % 9 == 5 ? std::string() : "GET /items/{id} " + std::to_string(i);
    span.kind = static_cast<SpanKind>(i % 4);
    span.start_unix_nano = i % 7 == 3 ? 0 : 1'700'000'000'000'000'000ULL + static_cast<uint64_t>(i);
    span.end_unix_nano = span.start_unix_nano + static_cast<uint64_t>(i) * 1000;
    span.attributes = {
        {"http.request.method", std::string("GET")},
        {"url.path", std::string(static_cast<size_t>(i * 13), '/')},  // 0 to over 500 bytes
        {"http.response.status_code", int64_t{200 + i}},
        {"negative", int64_t{-1 - i}},
        {"min", std::numeric_limits<int64_t>::min()},
        {"zero", int64_t{0}},
        {"empty", std::string()},
        {"ratio", 0.25 * i},
        {"nan-free zero", 0.0},
        {"flag", i % 2 == 0},
        {"", std::string("empty key")},
    };
    span.status = static_cast<StatusCode>(i % 3);
    if (i % 5 == 0) span.status_message = "broken pipe";
    if (i % 6 == 0) span.resource = a;
    if (i % 6 == 1) span.resource = b;
    if (i % 6 == 2) span.resource = nullptr;
    if (i % 6 >= 3) span.resource = a;
    spans.push_back(std::move(span));
  }
  // Enough attributes that the span and its ScopeSpans need 3-byte lengths.
  Span big = spans[1];
  big.name = "big";
  for (int i = 0; i < 600; ++i) big.attributes.push_back({"k", std::string(40, 'x')});
  spans.push_back(std::move(big));
  return spans;
}

TEST(OtlpWire, DecodesToTheSameSpansWithTheGeneratedClasses) {
  std::vector<Span> spans = VariedSpans();
  OtlpWireEncoder encoder("1.2.3");
  std::string bytes;
  encoder.Encode(spans, &bytes);
  collector::ExportTraceServiceRequest request;
  ASSERT_TRUE(request.ParseFromString(bytes));

  // Resources in order of first appearance: a, b, none.
  ASSERT_EQ(request.resource_spans_size(), 3);
  std::vector<const Resource*> resources = {spans[0].resource.get(), spans[1].resource.get(),
                                            nullptr};
  size_t decoded = 0;
  for (int r = 0; r < 3; ++r) {
    const trace::ResourceSpans& resource_spans = request.resource_spans(r);
    ASSERT_TRUE(resource_spans.has_resource());
    if (resources[r] != nullptr) {
      ExpectSameAttributes(resources[r]->attributes, resource_spans.resource().attributes());
    } else {
      EXPECT_EQ(resource_spans.resource().attributes_size(), 0);
    }
    EXPECT_TRUE(resource_spans.schema_url().empty());
    ASSERT_EQ(resource_spans.scope_spans_size(), 1);
    const trace::ScopeSpans& scope_spans = resource_spans.scope_spans(0);
    EXPECT_EQ(scope_spans.scope().name(), "weft");
    EXPECT_EQ(scope_spans.scope().version(), "1.2.3");
    // The spans of this resource, in their original order.
    int k = 0;
    for (const Span& span : spans) {
      if (span.resource.get() != resources[r]) continue;
      ASSERT_LT(k, scope_spans.spans_size());
      ExpectSameSpan(span, scope_spans.spans(k++));
    }
    EXPECT_EQ(k, scope_spans.spans_size());
    decoded += static_cast<size_t>(k);
  }
  EXPECT_EQ(decoded, spans.size());
}

TEST(OtlpWire, BytesMatchTheMessageTreeEncoder) {
  std::vector<Span> spans = VariedSpans();
  collector::ExportTraceServiceRequest request;
  BuildExportRequest(spans, "1.2.3", &request);
  std::string expected;
  ASSERT_TRUE(request.SerializeToString(&expected));
  EXPECT_EQ(EncodeExportRequest(spans, "1.2.3"), expected);
}

TEST(OtlpWire, ReusedEncoderGivesTheSameBytes) {
  std::vector<Span> spans = VariedSpans();
  OtlpWireEncoder encoder("");
  std::string first;
  std::string second;
  encoder.Encode(spans, &first);
  std::vector<Span> fewer(spans.begin(), spans.begin() + 3);
  encoder.Encode(fewer, &second);
  EXPECT_EQ(second, EncodeExportRequest(fewer, ""));
  encoder.Encode(spans, &second);
  EXPECT_EQ(second, first);
  // No scope version: the field is left out, as protobuf leaves it out.
  collector::ExportTraceServiceRequest request;
  ASSERT_TRUE(request.ParseFromString(first));
  EXPECT_EQ(request.resource_spans(0).scope_spans(0).scope().version(), "");
}

TEST(OtlpWire, EmptyBatchIsAnEmptyRequest) { EXPECT_EQ(EncodeExportRequest({}, "1"), ""); }

}  // namespace
}  // namespace weft
