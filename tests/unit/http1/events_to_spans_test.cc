// Raw events through the tracker into the span builder: what an exporter gets.
#include <gtest/gtest.h>

#include <optional>
#include <string>

#include "agent/spans/span_builder.h"
#include "tests/unit/http1/http1_harness.h"

namespace weft::testing {
namespace {

std::optional<std::string> Str(const Span& span, std::string_view key) {
  for (const Attribute& a : span.attributes) {
    if (a.key == key && std::holds_alternative<std::string>(a.value)) {
      return std::get<std::string>(a.value);
    }
  }
  return std::nullopt;
}

TEST(EventsToSpans, ServerSpanKeepsKernelIdsAndTimes) {
  Harness h(Role::kServer);
  TraceContext ctx = MakeContext(5, LinkSource::kPeerSocket);
  h.Request("GET /users/31337?session=abc HTTP/1.1\r\nHost: api:8080\r\n\r\n", &ctx);
  uint64_t first_byte = h.now();
  h.Response("HTTP/1.1 503 Busy\r\nContent-Length: 4\r\n\r\n");
  h.Response("busy");
  uint64_t last_byte = h.now();
  ASSERT_EQ(h.exchanges.size(), 1u);
  Span span = BuildHttpSpan(h.exchanges[0], {}, nullptr, 1'000'000'000);
  EXPECT_EQ(span.trace_id, ctx.trace_id);
  EXPECT_EQ(span.span_id, ctx.span_id);
  EXPECT_EQ(span.parent_span_id, ctx.parent_span_id);
  EXPECT_EQ(span.start_unix_nano, first_byte + 1'000'000'000);
  EXPECT_EQ(span.end_unix_nano, last_byte + 1'000'000'000);
  EXPECT_EQ(span.name, "GET /users/{id}");
  EXPECT_EQ(span.kind, SpanKind::kServer);
  EXPECT_EQ(span.status, StatusCode::kError);
  EXPECT_EQ(Str(span, "error.type"), "503");
  EXPECT_EQ(Str(span, "url.query"), "session=REDACTED");
  EXPECT_EQ(Str(span, "client.address"), "10.0.0.2");
  EXPECT_EQ(Str(span, "weft.link.source"), "peer-socket");
}

TEST(EventsToSpans, ClientSpanWithGeneratedIds) {
  Harness h(Role::kClient);
  h.tuple = MakeTuple("10.0.0.2", 40000, "10.0.0.1", 8080);
  h.Request("DELETE /items/9 HTTP/1.1\r\n\r\n");
  h.Close(/*reset=*/true);
  ASSERT_EQ(h.exchanges.size(), 1u);
  Span span = BuildHttpSpan(h.exchanges[0], {}, nullptr, 0);
  EXPECT_EQ(span.kind, SpanKind::kClient);
  EXPECT_EQ(span.name, "DELETE");
  EXPECT_FALSE(IsZero(span.trace_id));
  EXPECT_TRUE(span.IsRoot());
  EXPECT_EQ(Str(span, "url.full"), "http://10.0.0.1:8080/items/9");
  EXPECT_EQ(Str(span, "error.type"), "connection_reset");
  EXPECT_EQ(Str(span, "weft.link.source"), "none");
}

}  // namespace
}  // namespace weft::testing
