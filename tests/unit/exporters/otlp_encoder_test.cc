#include "exporters/otlp/otlp_encoder.h"

#include <gtest/gtest.h>

namespace weft {
namespace {

namespace collector = opentelemetry::proto::collector::trace::v1;
namespace trace = opentelemetry::proto::trace::v1;

std::shared_ptr<const Resource> MakeResource(const std::string& service) {
  return std::make_shared<Resource>(
      Resource{{{"service.name", service}, {"process.pid", int64_t{1}}}, service});
}

Span MakeSpan(uint8_t id, std::shared_ptr<const Resource> resource) {
  Span span;
  span.trace_id.fill(0xab);
  span.span_id.fill(id);
  span.name = "span" + std::to_string(id);
  span.resource = std::move(resource);
  return span;
}

TEST(OtlpEncoder, GroupsSpansPerResourceInFirstSeenOrder) {
  auto a = MakeResource("a");
  auto b = MakeResource("b");
  std::vector<Span> spans = {MakeSpan(1, a), MakeSpan(2, b), MakeSpan(3, a), MakeSpan(4, nullptr)};
  collector::ExportTraceServiceRequest request;
  BuildExportRequest(spans, "9.9.9", &request);
  ASSERT_EQ(request.resource_spans_size(), 3);
  const auto& first = request.resource_spans(0);
  EXPECT_EQ(first.resource().attributes(0).value().string_value(), "a");
  ASSERT_EQ(first.scope_spans_size(), 1);
  EXPECT_EQ(first.scope_spans(0).scope().name(), "weft");
  EXPECT_EQ(first.scope_spans(0).scope().version(), "9.9.9");
  ASSERT_EQ(first.scope_spans(0).spans_size(), 2);
  EXPECT_EQ(first.scope_spans(0).spans(0).name(), "span1");
  EXPECT_EQ(first.scope_spans(0).spans(1).name(), "span3");
  EXPECT_EQ(request.resource_spans(1).resource().attributes(0).value().string_value(), "b");
  EXPECT_EQ(request.resource_spans(2).resource().attributes_size(), 0);
  EXPECT_EQ(request.resource_spans(2).scope_spans(0).spans(0).name(), "span4");
}

TEST(OtlpEncoder, EncodesEveryField) {
  Span span = MakeSpan(7, MakeResource("svc"));
  span.parent_span_id.fill(0x11);
  span.trace_state = "k=v";
  span.trace_flags = 1;
  span.kind = SpanKind::kClient;
  span.start_unix_nano = 1'700'000'000'000'000'001ULL;
  span.end_unix_nano = 1'700'000'000'000'000'999ULL;
  span.attributes = {{"s", std::string("x")}, {"i", int64_t{-5}}, {"d", 2.5}, {"b", true}};
  span.status = StatusCode::kError;
  span.status_message = "boom";
  collector::ExportTraceServiceRequest request;
  BuildExportRequest({span}, "1", &request);
  const trace::Span& out = request.resource_spans(0).scope_spans(0).spans(0);
  EXPECT_EQ(out.trace_id(), std::string(16, '\xab'));
  EXPECT_EQ(out.span_id(), std::string(8, '\x07'));
  EXPECT_EQ(out.parent_span_id(), std::string(8, '\x11'));
  EXPECT_EQ(out.trace_state(), "k=v");
  EXPECT_EQ(out.flags(), 1u);
  EXPECT_EQ(out.kind(), trace::Span::SPAN_KIND_CLIENT);
  EXPECT_EQ(out.start_time_unix_nano(), span.start_unix_nano);
  EXPECT_EQ(out.end_time_unix_nano(), span.end_unix_nano);
  ASSERT_EQ(out.attributes_size(), 4);
  EXPECT_EQ(out.attributes(0).value().string_value(), "x");
  EXPECT_EQ(out.attributes(1).value().int_value(), -5);
  EXPECT_EQ(out.attributes(2).value().double_value(), 2.5);
  EXPECT_TRUE(out.attributes(3).value().bool_value());
  EXPECT_EQ(out.status().code(), trace::Status::STATUS_CODE_ERROR);
  EXPECT_EQ(out.status().message(), "boom");
}

TEST(OtlpEncoder, RootHasEmptyParentAndNonErrorHasNoStatusMessage) {
  Span span = MakeSpan(1, nullptr);
  span.status = StatusCode::kOk;
  span.status_message = "ignored: only ERROR carries a description";
  collector::ExportTraceServiceRequest request;
  BuildExportRequest({span}, "1", &request);
  const trace::Span& out = request.resource_spans(0).scope_spans(0).spans(0);
  EXPECT_TRUE(out.parent_span_id().empty());
  EXPECT_EQ(out.status().code(), trace::Status::STATUS_CODE_OK);
  EXPECT_TRUE(out.status().message().empty());

  span.status = StatusCode::kUnset;
  span.status_message.clear();
  BuildExportRequest({span}, "1", &request);
  EXPECT_FALSE(request.resource_spans(0).scope_spans(0).spans(0).has_status());
}

}  // namespace
}  // namespace weft
