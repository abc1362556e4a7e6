#include "exporters/console/trace_renderer.h"

#include <gtest/gtest.h>

namespace weft {
namespace {

constexpr uint64_t kT0 = 1'700'000'000'000'000'000ULL;
constexpr uint64_t kMs = 1'000'000;

std::shared_ptr<const Resource> Service(const std::string& name) {
  return std::make_shared<Resource>(Resource{{{"service.name", name}}, name});
}

Span MakeSpan(uint8_t id, uint8_t parent, SpanKind kind, std::string name, uint64_t start_ms_x10,
              uint64_t end_ms_x10, std::shared_ptr<const Resource> resource) {
  Span span;
  span.trace_id = {0x4b, 0xf9, 0x2f, 0x35, 0x77, 0xb3, 0x4d, 0xa6,
                   0xa3, 0xce, 0x92, 0x9d, 0x0e, 0x0e, 0x47, 0x36};
  span.span_id.fill(id);
  if (parent != 0) span.parent_span_id.fill(parent);
  span.kind = kind;
  span.name = std::move(name);
  span.start_unix_nano = kT0 + start_ms_x10 * kMs / 10;
  span.end_unix_nano = kT0 + end_ms_x10 * kMs / 10;
  span.resource = std::move(resource);
  return span;
}

ReadyTrace FixtureTrace() {
  auto frontend = Service("frontend");
  auto backend = Service("backend");
  Span root = MakeSpan(1, 0, SpanKind::kServer, "GET /checkout", 0, 200, frontend);
  root.attributes = {{"http.response.status_code", int64_t{200}}};
  Span cart = MakeSpan(2, 1, SpanKind::kClient, "GET /api/cart", 20, 180, frontend);
  cart.attributes = {{"http.response.status_code", int64_t{503}}};
  cart.status = StatusCode::kError;
  Span cart_server = MakeSpan(3, 2, SpanKind::kServer, "GET /api/cart", 30, 170, backend);
  cart_server.attributes = {{"http.status_code", std::string("503")}};
  cart_server.status = StatusCode::kError;
  Span price = MakeSpan(4, 1, SpanKind::kClient, "GET /api/price", 10, 15, frontend);
  Span orphan = MakeSpan(5, 0x77, SpanKind::kInternal, "db query", 100, 150, backend);
  ReadyTrace trace;
  trace.trace_id = root.trace_id;
  // Arrival order is children first; output order must not depend on it.
  trace.spans = {cart_server, orphan, cart, price, root};
  return trace;
}

TEST(TraceRenderer, GoldenTreeWithWaterfall) {
  RenderOptions options;
  options.bar_width = 20;
  const std::string expected =
      "trace 4bf92f3577b34da6a3ce929d0e0e4736  5 spans  20.000 ms\n"
      "  frontend SERVER GET /checkout                                                 200     "
      "20.000 ms |====================|\n"
      "    frontend CLIENT GET /api/price                                                -      "
      "0.500 ms | =                  |\n"
      "    frontend CLIENT GET /api/cart                                         503 ERROR     "
      "16.000 ms |  ================  |\n"
      "      backend SERVER GET /api/cart                                        503 ERROR     "
      "14.000 ms |   ==============   |\n"
      "    backend INTERNAL db query [orphan: parent 7777777777777777 not seen]          -      "
      "5.000 ms |          =====     |\n";
  EXPECT_EQ(RenderTrace(FixtureTrace(), options), expected);
}

TEST(TraceRenderer, ColoursAndUnicodeOnlyWhenAsked) {
  RenderOptions options;
  options.color = true;
  options.unicode = true;
  const std::string text = RenderTrace(FixtureTrace(), options);
  EXPECT_NE(text.find("\033[31m"), std::string::npos) << "errors in red";
  EXPECT_NE(text.find("\u2588"), std::string::npos);
}

TEST(TraceRenderer, WithoutTrueRootPicksTheServerSpanAndLongNamesAreCut) {
  auto svc = Service("svc");
  Span server = MakeSpan(1, 9, SpanKind::kServer, std::string(200, 'n'), 0, 10, svc);
  Span child = MakeSpan(2, 1, SpanKind::kClient, "child", 5, 5, nullptr);
  ReadyTrace trace;
  trace.trace_id = server.trace_id;
  trace.spans = {child, server};
  RenderOptions options;
  options.bar_width = 10;
  options.max_label_width = 30;
  const std::string text = RenderTrace(trace, options);
  EXPECT_EQ(text,
            "trace 4bf92f3577b34da6a3ce929d0e0e4736  2 spans  1.000 ms\n"
            "  svc SERVER nnnnnnnnnnnnnnnnnn~          -      1.000 ms |==========|\n"
            "    ? CLIENT child                        -      0.000 ms |     =    |\n");
}

}  // namespace
}  // namespace weft
