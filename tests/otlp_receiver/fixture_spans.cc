#include "tests/otlp_receiver/fixture_spans.h"

#include <memory>

namespace weft::testing {

namespace {

TraceId MakeTraceId(uint8_t seed, int copy) {
  TraceId id{};
  for (size_t i = 0; i < id.size(); ++i) id[i] = static_cast<uint8_t>(seed + 17 * i);
  id[0] = static_cast<uint8_t>(copy);
  return id;
}

SpanId MakeSpanId(uint8_t seed, int copy) {
  SpanId id{};
  for (size_t i = 0; i < id.size(); ++i) id[i] = static_cast<uint8_t>(seed + 31 * i + 1);
  id[0] = static_cast<uint8_t>(copy);
  return id;
}

const char* KindText(SpanKind kind) {
  switch (kind) {
    case SpanKind::kServer:
      return "SERVER";
    case SpanKind::kClient:
      return "CLIENT";
    case SpanKind::kInternal:
      return "INTERNAL";
    default:
      return "UNSPECIFIED";
  }
}

const char* StatusText(StatusCode code) {
  switch (code) {
    case StatusCode::kOk:
      return "OK";
    case StatusCode::kError:
      return "ERROR";
    default:
      return "UNSET";
  }
}

nlohmann::json AttributesJson(const Attributes& attributes) {
  nlohmann::json out = nlohmann::json::object();
  for (const Attribute& a : attributes) {
    std::visit([&](const auto& v) { out[a.key.str()] = v; }, a.value);
  }
  return out;
}

}  // namespace

std::vector<Span> FixtureSpans(int copy) {
  auto frontend =
      std::make_shared<Resource>(Resource{{{"service.name", std::string("frontend")},
                                           {"process.pid", int64_t{4242}},
                                           {"host.name", std::string("node-1")},
                                           {"process.runtime.name", std::string("nginx")}},
                                          "frontend"});
  auto backend = std::make_shared<Resource>(Resource{{{"service.name", std::string("backend")},
                                                      {"process.pid", int64_t{777}},
                                                      {"weft.test.sampled", true}},
                                                     "backend"});

  const uint64_t t0 = 1'700'000'000'123'456'789ULL;
  std::vector<Span> spans;

  Span server;
  server.trace_id = MakeTraceId(0x40, copy);
  server.span_id = MakeSpanId(0x10, copy);
  server.trace_state = "vendor=abc,other=1";
  server.trace_flags = 1;
  server.name = "GET /checkout";
  server.kind = SpanKind::kServer;
  server.start_unix_nano = t0;
  server.end_unix_nano = t0 + 12'345'678;
  server.attributes = {{"http.request.method", std::string("GET")},
                       {"url.path", std::string("/checkout")},
                       {"http.response.status_code", int64_t{200}},
                       {"server.port", int64_t{8080}},
                       {"weft.test.negative", int64_t{-9'000'000'000LL}},
                       {"weft.test.ratio", 0.125},
                       {"weft.test.flag", true},
                       {"weft.test.unicode", std::string("caf\xC3\xA9 \xE2\x9C\x93")}};
  server.status = StatusCode::kUnset;
  server.resource = frontend;

  Span client;
  client.trace_id = server.trace_id;
  client.span_id = MakeSpanId(0x20, copy);
  client.parent_span_id = server.span_id;
  client.name = "GET /api/cart";
  client.kind = SpanKind::kClient;
  client.start_unix_nano = t0 + 1'000'000;
  client.end_unix_nano = t0 + 9'000'000;
  client.attributes = {{"http.request.method", std::string("GET")},
                       {"server.address", std::string("backend")},
                       {"http.response.status_code", int64_t{503}},
                       {"weft.test.false", false},
                       {"weft.test.double", -3.5e10}};
  client.status = StatusCode::kError;
  client.status_message = "upstream returned 503";
  client.resource = frontend;

  Span backend_server;
  backend_server.trace_id = server.trace_id;
  backend_server.span_id = MakeSpanId(0x30, copy);
  backend_server.parent_span_id = client.span_id;
  backend_server.name = "GET /api/cart";
  backend_server.kind = SpanKind::kServer;
  backend_server.start_unix_nano = t0 + 1'500'000;
  backend_server.end_unix_nano = t0 + 8'500'000;
  backend_server.attributes = {{"http.response.status_code", int64_t{503}}};
  backend_server.status = StatusCode::kError;
  backend_server.status_message = "";
  backend_server.resource = backend;

  Span internal;
  internal.trace_id = MakeTraceId(0x90, copy);
  internal.span_id = MakeSpanId(0x50, copy);
  internal.trace_flags = 0;
  internal.name = "cache refresh";
  internal.kind = SpanKind::kInternal;
  internal.start_unix_nano = t0 + 100;
  internal.end_unix_nano = t0 + 200;
  internal.status = StatusCode::kOk;
  internal.resource = backend;

  Span unspecified;
  unspecified.trace_id = internal.trace_id;
  unspecified.span_id = MakeSpanId(0x60, copy);
  unspecified.parent_span_id = internal.span_id;
  unspecified.name = "";
  unspecified.kind = SpanKind::kUnspecified;
  unspecified.start_unix_nano = t0 + 150;
  unspecified.end_unix_nano = t0 + 150;
  unspecified.resource = nullptr;

  spans = {client, backend_server, server, internal, unspecified};
  return spans;
}

std::vector<nlohmann::json> ExpectedJson(const std::vector<Span>& spans) {
  std::vector<nlohmann::json> out;
  for (const Span& span : spans) {
    out.push_back({
        {"trace_id", ToHex(span.trace_id)},
        {"span_id", ToHex(span.span_id)},
        {"parent_span_id", span.IsRoot() ? std::string() : ToHex(span.parent_span_id)},
        {"name", span.name},
        {"kind", KindText(span.kind)},
        {"start_unix_nano", span.start_unix_nano},
        {"end_unix_nano", span.end_unix_nano},
        {"status_code", StatusText(span.status)},
        {"status_message", span.status == StatusCode::kError ? span.status_message : ""},
        {"trace_state", span.trace_state},
        {"flags", span.trace_flags},
        {"attributes", AttributesJson(span.attributes)},
        {"resource",
         span.resource ? AttributesJson(span.resource->attributes) : nlohmann::json::object()},
        {"scope", "weft"},
    });
  }
  return out;
}

}  // namespace weft::testing
