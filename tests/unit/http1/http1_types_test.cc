// HttpRequest / HttpResponse SwapWith exchange every field (they are written
// member by member, so a field added without its swap must show up here).
#include <gtest/gtest.h>

#include "agent/protocols/http1/http1_types.h"

namespace weft::http1 {
namespace {

HttpRequest FilledRequest(uint8_t seed) {
  HttpRequest r;
  r.method = seed;
  r.version_major = static_cast<uint8_t>(seed + 1);
  r.version_minor = static_cast<uint8_t>(seed + 2);
  r.target = "/target/long/enough/to/leave/the/inline/buffer/" + std::to_string(seed);
  r.host = "host" + std::to_string(seed);
  r.user_agent = "agent" + std::to_string(seed);
  r.traceparent = "tp" + std::to_string(seed);
  r.tracestate = "ts" + std::to_string(seed);
  r.content_type = "ct" + std::to_string(seed);
  r.target_truncated = seed % 2 == 0;
  r.body_size = 1000u + seed;
  r.body_size_known = seed % 2 == 1;
  r.upgrade = seed % 2 == 0;
  r.placeholder = seed % 2 == 1;
  r.start_ns = 5000u + seed;
  r.end_ns = 6000u + seed;
  r.tid = 700u + seed;
  r.async_task = 9000u + seed;
  r.context.trace_id.fill(seed);
  r.context.span_id.fill(static_cast<uint8_t>(seed + 1));
  r.context.parent_span_id.fill(static_cast<uint8_t>(seed + 2));
  r.context.trace_flags = seed;
  r.context.link_source = seed % 2 == 0 ? LinkSource::kTraceparent : LinkSource::kNone;
  r.context.starts_span = seed % 2 == 0;
  r.context_from_kernel = seed % 2 == 0;
  return r;
}

void ExpectSameRequest(const HttpRequest& a, const HttpRequest& b) {
  EXPECT_EQ(a.method, b.method);
  EXPECT_EQ(a.version_major, b.version_major);
  EXPECT_EQ(a.version_minor, b.version_minor);
  EXPECT_EQ(a.target, b.target);
  EXPECT_EQ(a.host, b.host);
  EXPECT_EQ(a.user_agent, b.user_agent);
  EXPECT_EQ(a.traceparent, b.traceparent);
  EXPECT_EQ(a.tracestate, b.tracestate);
  EXPECT_EQ(a.content_type, b.content_type);
  EXPECT_EQ(a.target_truncated, b.target_truncated);
  EXPECT_EQ(a.body_size, b.body_size);
  EXPECT_EQ(a.body_size_known, b.body_size_known);
  EXPECT_EQ(a.upgrade, b.upgrade);
  EXPECT_EQ(a.placeholder, b.placeholder);
  EXPECT_EQ(a.start_ns, b.start_ns);
  EXPECT_EQ(a.end_ns, b.end_ns);
  EXPECT_EQ(a.tid, b.tid);
  EXPECT_EQ(a.async_task, b.async_task);
  EXPECT_EQ(a.context.trace_id, b.context.trace_id);
  EXPECT_EQ(a.context.span_id, b.context.span_id);
  EXPECT_EQ(a.context.parent_span_id, b.context.parent_span_id);
  EXPECT_EQ(a.context.trace_flags, b.context.trace_flags);
  EXPECT_EQ(a.context.link_source, b.context.link_source);
  EXPECT_EQ(a.context.starts_span, b.context.starts_span);
  EXPECT_EQ(a.context_from_kernel, b.context_from_kernel);
}

TEST(HttpTypes, RequestSwapExchangesEveryField) {
  HttpRequest a = FilledRequest(2);
  HttpRequest b = FilledRequest(7);
  a.SwapWith(b);
  ExpectSameRequest(a, FilledRequest(7));
  ExpectSameRequest(b, FilledRequest(2));
}

TEST(HttpTypes, ResponseSwapExchangesEveryField) {
  HttpResponse a;
  a.status_code = 200;
  a.version_minor = 0;
  a.content_type = "text/plain";
  a.body_size = 12;
  a.body_size_known = false;
  a.complete = false;
  a.start_ns = 1;
  a.end_ns = 2;
  a.tid = 41;
  a.async_task = 51;
  HttpResponse b;
  b.status_code = 503;
  b.content_type = "application/json; charset=utf-8";
  b.start_ns = 3;
  b.end_ns = 4;
  b.tid = 42;
  b.async_task = 52;
  a.SwapWith(b);
  EXPECT_EQ(a.status_code, 503);
  EXPECT_EQ(a.version_minor, 1);
  EXPECT_EQ(a.content_type, "application/json; charset=utf-8");
  EXPECT_EQ(a.body_size, 0u);
  EXPECT_TRUE(a.body_size_known);
  EXPECT_TRUE(a.complete);
  EXPECT_EQ(a.start_ns, 3u);
  EXPECT_EQ(a.end_ns, 4u);
  EXPECT_EQ(a.tid, 42u);
  EXPECT_EQ(a.async_task, 52u);
  EXPECT_EQ(b.status_code, 200);
  EXPECT_EQ(b.version_minor, 0);
  EXPECT_EQ(b.content_type, "text/plain");
  EXPECT_EQ(b.body_size, 12u);
  EXPECT_FALSE(b.body_size_known);
  EXPECT_FALSE(b.complete);
  EXPECT_EQ(b.start_ns, 1u);
  EXPECT_EQ(b.end_ns, 2u);
  EXPECT_EQ(b.tid, 41u);
  EXPECT_EQ(b.async_task, 51u);
}

}  // namespace
}  // namespace weft::http1
