#include "agent/spans/span_builder.h"

#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <llhttp.h>
#include <sys/socket.h>

#include <optional>

namespace weft {
namespace {

using http1::ExchangeError;
using http1::ExchangeKind;
using http1::HttpExchange;

const Attribute* Find(const Span& span, std::string_view key) {
  for (const Attribute& a : span.attributes)
    if (a.key == key) return &a;
  return nullptr;
}
std::optional<std::string> Str(const Span& span, std::string_view key) {
  const Attribute* a = Find(span, key);
  if (a == nullptr || !std::holds_alternative<std::string>(a->value)) return std::nullopt;
  return std::get<std::string>(a->value);
}
std::optional<int64_t> Int(const Span& span, std::string_view key) {
  const Attribute* a = Find(span, key);
  if (a == nullptr || !std::holds_alternative<int64_t>(a->value)) return std::nullopt;
  return std::get<int64_t>(a->value);
}

HttpExchange MakeExchange(ExchangeKind kind, std::string target, int status = 200) {
  HttpExchange e;
  e.kind = kind;
  e.tuple.family = AF_INET;
  inet_pton(AF_INET, "10.1.1.1", e.tuple.local.addr.data());
  inet_pton(AF_INET, "10.2.2.2", e.tuple.remote.addr.data());
  e.tuple.local.port = kind == ExchangeKind::kServer ? 8080 : 51000;
  e.tuple.remote.port = kind == ExchangeKind::kServer ? 51000 : 80;
  e.request.method = HTTP_GET;
  e.request.target = std::move(target);
  e.request.start_ns = 1'000;
  e.request.context.trace_id[0] = 0xab;
  e.request.context.span_id[0] = 0xcd;
  e.request.context.parent_span_id[0] = 0xef;
  e.request.context.trace_flags = 1;
  e.request.context.link_source = LinkSource::kThread;
  e.has_response = status != 0;
  e.response.status_code = static_cast<uint16_t>(status);
  e.response.body_size = 12;
  e.end_ns = 5'000;
  return e;
}

TEST(SpanBuilder, ServerSpanAttributesAndName) {
  HttpExchange e = MakeExchange(ExchangeKind::kServer, "/users/123/cart?coupon=x&v=2");
  e.request.host = "shop.example:8443";
  e.request.user_agent = "curl/8";
  e.request.tracestate = "vendor=1";
  auto resource = std::make_shared<Resource>();
  Span span = BuildHttpSpan(e, {}, resource, 1'000'000);
  EXPECT_EQ(span.name, "GET /users/{id}/cart");
  EXPECT_EQ(span.kind, SpanKind::kServer);
  EXPECT_EQ(span.trace_id, e.request.context.trace_id);
  EXPECT_EQ(span.span_id, e.request.context.span_id);
  EXPECT_EQ(span.parent_span_id, e.request.context.parent_span_id);
  EXPECT_EQ(span.trace_state, "");  // only a traceparent link carries tracestate
  EXPECT_EQ(span.start_unix_nano, 1'001'000u);
  EXPECT_EQ(span.end_unix_nano, 1'005'000u);
  EXPECT_EQ(span.resource, resource);
  EXPECT_EQ(span.status, StatusCode::kUnset);
  EXPECT_EQ(Str(span, "http.request.method"), "GET");
  EXPECT_EQ(Str(span, "url.path"), "/users/123/cart");
  EXPECT_EQ(Str(span, "url.query"), "coupon=REDACTED&v=REDACTED");
  EXPECT_EQ(Str(span, "url.scheme"), "http");
  EXPECT_EQ(Str(span, "http.route"), "/users/{id}/cart");
  EXPECT_EQ(Int(span, "http.response.status_code"), 200);
  EXPECT_EQ(Str(span, "server.address"), "shop.example");
  EXPECT_EQ(Int(span, "server.port"), 8443);
  EXPECT_EQ(Str(span, "client.address"), "10.2.2.2");
  EXPECT_EQ(Str(span, "network.peer.address"), "10.2.2.2");
  EXPECT_EQ(Int(span, "network.peer.port"), 51000);
  EXPECT_EQ(Str(span, "network.protocol.version"), "1.1");
  EXPECT_EQ(Str(span, "user_agent.original"), "curl/8");
  EXPECT_EQ(Int(span, "http.request.body.size"), 0);
  EXPECT_EQ(Int(span, "http.response.body.size"), 12);
  EXPECT_EQ(Str(span, "weft.link.source"), "thread");
  EXPECT_FALSE(Find(span, "url.full"));
  EXPECT_FALSE(Find(span, "error.type"));
}

TEST(SpanBuilder, ServerAddressFallsBackToTuple) {
  HttpExchange e = MakeExchange(ExchangeKind::kServer, "/");
  Span span = BuildHttpSpan(e, {}, nullptr, 0);
  EXPECT_EQ(Str(span, "server.address"), "10.1.1.1");
  EXPECT_EQ(Int(span, "server.port"), 8080);
  e.request.host = "plain.example";
  span = BuildHttpSpan(e, {}, nullptr, 0);
  EXPECT_EQ(Str(span, "server.address"), "plain.example");
  EXPECT_EQ(Int(span, "server.port"), 80);
}

TEST(SpanBuilder, ClientSpanUsesFullUrl) {
  HttpExchange e = MakeExchange(ExchangeKind::kClient, "/search?q=secret&page=2");
  e.request.host = "api.example";
  Span span = BuildHttpSpan(e, {}, nullptr, 0);
  EXPECT_EQ(span.kind, SpanKind::kClient);
  EXPECT_EQ(span.name, "GET");
  EXPECT_EQ(Str(span, "url.full"), "http://api.example/search?q=REDACTED&page=REDACTED");
  EXPECT_EQ(Str(span, "server.address"), "api.example");
  EXPECT_EQ(Int(span, "server.port"), 80);
  EXPECT_FALSE(Find(span, "url.path"));
  EXPECT_FALSE(Find(span, "http.route"));
  EXPECT_FALSE(Find(span, "client.address"));

  SpanBuildOptions keep;
  keep.keep_query_values = true;
  span = BuildHttpSpan(e, keep, nullptr, 0);
  EXPECT_EQ(Str(span, "url.full"), "http://api.example/search?q=secret&page=2");
}

TEST(SpanBuilder, ClientWithoutHostUsesPeerAndAbsoluteFormDropsCredentials) {
  HttpExchange e = MakeExchange(ExchangeKind::kClient, "/x");
  Span span = BuildHttpSpan(e, {}, nullptr, 0);
  EXPECT_EQ(Str(span, "url.full"), "http://10.2.2.2:80/x");
  EXPECT_EQ(Str(span, "server.address"), "10.2.2.2");
  EXPECT_EQ(Int(span, "server.port"), 80);

  e.request.target = "http://bob:pw@proxy.example:3128/y?k=v";
  span = BuildHttpSpan(e, {}, nullptr, 0);
  EXPECT_EQ(Str(span, "url.full"), "http://REDACTED:REDACTED@proxy.example:3128/y?k=REDACTED");
  EXPECT_EQ(Str(span, "server.address"), "proxy.example");
  EXPECT_EQ(Int(span, "server.port"), 3128);
}

TEST(SpanBuilder, UnknownMethodIsOther) {
  HttpExchange e = MakeExchange(ExchangeKind::kServer, "/dav/1");
  e.request.method = HTTP_PROPFIND;
  Span span = BuildHttpSpan(e, {}, nullptr, 0);
  EXPECT_EQ(span.name, "HTTP");
  EXPECT_EQ(Str(span, "http.request.method"), "_OTHER");
  EXPECT_EQ(Str(span, "http.request.method_original"), "PROPFIND");
}

// A method number no parser produces (llhttp's own name lookup would
// abort) still yields a span.
TEST(SpanBuilder, MethodNumberOutsideTheTableIsOther) {
  HttpExchange e = MakeExchange(ExchangeKind::kServer, "/x");
  e.request.method = 250;
  Span span = BuildHttpSpan(e, {}, nullptr, 0);
  EXPECT_EQ(Str(span, "http.request.method"), "_OTHER");
  EXPECT_EQ(Str(span, "http.request.method_original"), "<unknown>");
}

TEST(SpanBuilder, RouteHeuristicCanBeSwitchedOff) {
  HttpExchange e = MakeExchange(ExchangeKind::kServer, "/orders/99");
  SpanBuildOptions options;
  options.route_heuristic = false;
  Span span = BuildHttpSpan(e, options, nullptr, 0);
  EXPECT_EQ(span.name, "GET");
  EXPECT_FALSE(Find(span, "http.route"));
  EXPECT_EQ(Str(span, "url.path"), "/orders/99");
}

TEST(SpanBuilder, StatusRulesDifferBySide) {
  struct Case {
    ExchangeKind kind;
    int status;
    bool error;
  };
  for (Case c : {Case{ExchangeKind::kServer, 404, false}, Case{ExchangeKind::kServer, 500, true},
                 Case{ExchangeKind::kServer, 503, true}, Case{ExchangeKind::kClient, 399, false},
                 Case{ExchangeKind::kClient, 404, true}, Case{ExchangeKind::kClient, 502, true}}) {
    Span span = BuildHttpSpan(MakeExchange(c.kind, "/", c.status), {}, nullptr, 0);
    EXPECT_EQ(span.status == StatusCode::kError, c.error) << c.status;
    if (c.error) {
      EXPECT_EQ(Str(span, "error.type"), std::to_string(c.status));
    } else {
      EXPECT_FALSE(Find(span, "error.type"));
    }
  }
}

TEST(SpanBuilder, ConnectionErrorsWithoutResponse) {
  HttpExchange e = MakeExchange(ExchangeKind::kClient, "/", 0);
  e.error = ExchangeError::kConnectionReset;
  Span span = BuildHttpSpan(e, {}, nullptr, 0);
  EXPECT_EQ(span.status, StatusCode::kError);
  EXPECT_EQ(Str(span, "error.type"), "connection_reset");
  EXPECT_FALSE(Find(span, "http.response.status_code"));
  EXPECT_FALSE(Find(span, "http.response.body.size"));

  e = MakeExchange(ExchangeKind::kServer, "/", 200);
  e.error = ExchangeError::kConnectionClosed;
  e.response.body_size_known = false;
  span = BuildHttpSpan(e, {}, nullptr, 0);
  EXPECT_EQ(Str(span, "error.type"), "connection_closed");
  EXPECT_EQ(Int(span, "http.response.status_code"), 200);
  EXPECT_FALSE(Find(span, "http.response.body.size"));
}

TEST(SpanBuilder, TraceparentLinkCarriesTracestate) {
  HttpExchange e = MakeExchange(ExchangeKind::kServer, "/");
  e.request.context.link_source = LinkSource::kTraceparent;
  e.request.tracestate = "congo=t61rcWkgMzE";
  e.request.version_minor = 0;
  Span span = BuildHttpSpan(e, {}, nullptr, 0);
  EXPECT_EQ(span.trace_state, "congo=t61rcWkgMzE");
  EXPECT_EQ(Str(span, "weft.link.source"), "traceparent");
  EXPECT_EQ(Str(span, "network.protocol.version"), "1.0");
}

TEST(SpanBuilder, AddressesOfBothFamilies) {
  HttpExchange e = MakeExchange(ExchangeKind::kClient, "/");
  inet_pton(AF_INET, "192.168.100.0", e.tuple.remote.addr.data());
  Span span = BuildHttpSpan(e, {}, nullptr, 0);
  EXPECT_EQ(Str(span, "network.peer.address"), "192.168.100.0");
  EXPECT_EQ(Str(span, "url.full"), "http://192.168.100.0:80/");

  e.tuple.family = AF_INET6;
  inet_pton(AF_INET6, "fd00::1", e.tuple.remote.addr.data());
  span = BuildHttpSpan(e, {}, nullptr, 0);
  EXPECT_EQ(Str(span, "network.peer.address"), "fd00::1");
  EXPECT_EQ(Str(span, "server.address"), "fd00::1");
  EXPECT_EQ(Str(span, "url.full"), "http://[fd00::1]:80/");
}

TEST(SpanBuilder, EndNeverBeforeStart) {
  HttpExchange e = MakeExchange(ExchangeKind::kServer, "/");
  e.end_ns = 10;
  Span span = BuildHttpSpan(e, {}, nullptr, 0);
  EXPECT_EQ(span.end_unix_nano, span.start_unix_nano);
}

}  // namespace
}  // namespace weft
