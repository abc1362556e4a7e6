#include "agent/spans/span_builder.h"

#include <llhttp.h>
#include <sys/socket.h>

#include <array>
#include <string>
#include <utility>

#include "agent/spans/url_attributes.h"

namespace weft {
namespace {

using http1::ExchangeKind;
using http1::HttpExchange;

// Keys are string literals (AttributeKey views): only values are copied.
void Add(Attributes& out, AttributeKey key, std::string value) {
  out.push_back(Attribute{key, AttributeValue(std::move(value))});
}
void Add(Attributes& out, AttributeKey key, std::string_view value) {
  out.push_back(Attribute{key, AttributeValue(std::in_place_type<std::string>, value)});
}
void Add(Attributes& out, AttributeKey key, int64_t value) {
  out.push_back(Attribute{key, AttributeValue(value)});
}

uint64_t ToUnix(uint64_t monotonic_ns, int64_t offset_ns) {
  int64_t unix_ns = static_cast<int64_t>(monotonic_ns) + offset_ns;
  return unix_ns > 0 ? static_cast<uint64_t>(unix_ns) : 0;
}

std::string ProtocolVersion(uint8_t major, uint8_t minor) {  // short: no allocation
  if (major == 1 && minor == 1) return "1.1";
  if (major == 1 && minor == 0) return "1.0";
  return std::to_string(major) + "." + std::to_string(minor);
}

// Appends any number of string pieces (absl::StrCat here takes absl's own
// string_view, not std's).
template <typename... Pieces>
void Append(std::string& out, const Pieces&... pieces) {
  (out.append(std::string_view(pieces)), ...);
}

std::string QueryForExport(std::string_view query, const SpanBuildOptions& options) {
  return options.keep_query_values ? std::string(query) : RedactQueryValues(query);
}

// Builds url.full for a client request: absolute-form targets as sent (minus
// credentials), origin-form ones joined with the Host header or peer address.
std::string FullUrl(const TargetParts& parts, std::string_view authority, std::string_view scheme,
                    const SpanBuildOptions& options) {
  std::string url;
  if (parts.absolute) {
    Append(url, parts.scheme, "://");
    if (parts.has_userinfo) Append(url, kRedacted, ":", kRedacted, "@");
    url.append(parts.host);
    if (!parts.port.empty()) Append(url, ":", parts.port);
  } else {
    Append(url, scheme, "://", authority);
  }
  url.append(parts.path);
  if (parts.has_query) Append(url, "?", QueryForExport(parts.query, options));
  return url;
}

// Tuple::RemoteAddress goes through inet_ntop (printf underneath); IPv4 is
// the common case on the hot path, so it is formatted here directly.
std::string AddressOf(const Tuple& tuple, const Endpoint& endpoint, bool remote) {
  if (tuple.family != AF_INET) return remote ? tuple.RemoteAddress() : tuple.LocalAddress();
  char buf[16];
  char* p = buf;
  for (int i = 0; i < 4; ++i) {
    unsigned v = endpoint.addr[i];
    if (v >= 100) *p++ = static_cast<char>('0' + v / 100);
    if (v >= 10) *p++ = static_cast<char>('0' + (v / 10) % 10);
    *p++ = static_cast<char>('0' + v % 10);
    if (i < 3) *p++ = '.';
  }
  return std::string(buf, p);
}

std::string EndpointAuthority(const std::string& address, uint16_t port, bool ipv6) {
  std::string out;
  std::string port_text = std::to_string(port);
  if (ipv6) {
    Append(out, "[", address, "]:", port_text);
  } else {
    Append(out, address, ":", port_text);
  }
  return out;
}

// llhttp_method_name aborts on a number outside its table; a span must never
// take the agent down, so an unexpected value gets a name instead.
std::string_view MethodName(uint8_t method) {
  switch (method) {
#define WEFT_METHOD_CASE(num, name, string) \
  case num:                                 \
    return #string;
    HTTP_ALL_METHOD_MAP(WEFT_METHOD_CASE)
#undef WEFT_METHOD_CASE
    default:
      return "<unknown>";
  }
}

}  // namespace

bool IsWellKnownMethod(std::string_view method) {
  static constexpr std::array<std::string_view, 9> kKnown = {
      "CONNECT", "DELETE", "GET", "HEAD", "OPTIONS", "PATCH", "POST", "PUT", "TRACE"};
  for (std::string_view m : kKnown)
    if (m == method) return true;
  return false;
}

Span BuildHttpSpan(const HttpExchange& exchange, const SpanBuildOptions& options,
                   std::shared_ptr<const Resource> resource, int64_t monotonic_to_unix_offset_ns) {
  const http1::HttpRequest& request = exchange.request;
  const http1::HttpResponse& response = exchange.response;
  const bool server = exchange.kind == ExchangeKind::kServer;

  Span span;
  span.trace_id = request.context.trace_id;
  span.span_id = request.context.span_id;
  span.parent_span_id = request.context.parent_span_id;
  span.trace_flags = request.context.trace_flags;
  if (server && request.context.link_source == LinkSource::kTraceparent) {
    span.trace_state = request.tracestate;
  }
  span.kind = server ? SpanKind::kServer : SpanKind::kClient;
  span.start_unix_nano = ToUnix(request.start_ns, monotonic_to_unix_offset_ns);
  span.end_unix_nano =
      std::max(span.start_unix_nano, ToUnix(exchange.end_ns, monotonic_to_unix_offset_ns));
  span.resource = std::move(resource);

  Attributes& attrs = span.attributes;
  // 18 attributes (1008 bytes) stay within glibc's per-thread cache of small
  // blocks (tcache, up to 1032 bytes); only rare spans need all 19.
  attrs.reserve(18);
  std::string_view method = MethodName(request.method);
  bool known_method = IsWellKnownMethod(method);
  Add(attrs, "http.request.method", known_method ? method : std::string_view("_OTHER"));
  if (!known_method) Add(attrs, "http.request.method_original", method);

  TargetParts target = SplitTarget(request.target);
  // Origin-form targets say nothing of the scheme: TLS plaintext is https.
  const std::string_view default_scheme = exchange.tls ? "https" : "http";
  const int64_t default_port = exchange.tls ? 443 : 80;
  const bool ipv6 = exchange.tuple.family == AF_INET6;
  const Endpoint& peer = exchange.tuple.remote;
  const Endpoint& server_endpoint = server ? exchange.tuple.local : exchange.tuple.remote;
  std::string peer_address = AddressOf(exchange.tuple, peer, /*remote=*/true);

  // server.address / server.port: the Host header (or absolute-form target),
  // else the connection's server-side endpoint.
  std::string server_address;
  int64_t server_port = 0;
  std::string_view host_name;
  uint16_t host_port = 0;
  if (target.absolute && !target.host.empty()) {
    std::string authority(target.host);
    if (!target.port.empty()) Append(authority, ":", target.port);
    if (ParseHostHeader(authority, &host_name, &host_port)) {
      server_address = std::string(host_name);
      server_port = host_port != 0 ? host_port : default_port;
    }
  }
  if (!server_address.empty()) {
    // From the absolute-form target.
  } else if (ParseHostHeader(request.host, &host_name, &host_port)) {
    server_address = std::string(host_name);
    server_port = host_port != 0 ? host_port : default_port;
  } else {
    server_address = server ? AddressOf(exchange.tuple, exchange.tuple.local, false) : peer_address;
    server_port = server_endpoint.port;
  }

  Add(attrs, "url.scheme", target.absolute ? target.scheme : default_scheme);
  bool has_route = false;
  if (server) {
    Add(attrs, "url.path", target.path);
    if (target.has_query) Add(attrs, "url.query", QueryForExport(target.query, options));
    if (options.route_heuristic && !target.path.empty() && target.path[0] == '/') {
      std::string route = InferRoute(target.path);
      // The name is built now so the route can move into its attribute.
      if (known_method) Append(span.name, method, " ", route);
      has_route = true;
      Add(attrs, "http.route", std::move(route));
    }
    if (!peer_address.empty()) Add(attrs, "client.address", peer_address);
    if (peer.port != 0) Add(attrs, "client.port", static_cast<int64_t>(peer.port));
  } else {
    std::string authority =
        !request.host.empty() ? request.host : EndpointAuthority(peer_address, peer.port, ipv6);
    Add(attrs, "url.full", FullUrl(target, authority, default_scheme, options));
  }
  if (!server_address.empty()) Add(attrs, "server.address", std::move(server_address));
  if (server_port != 0) Add(attrs, "server.port", server_port);
  if (!peer_address.empty()) Add(attrs, "network.peer.address", std::move(peer_address));
  if (peer.port != 0) Add(attrs, "network.peer.port", static_cast<int64_t>(peer.port));
  Add(attrs, "network.protocol.version",
      ProtocolVersion(request.version_major, request.version_minor));
  if (!request.user_agent.empty()) {
    Add(attrs, "user_agent.original", std::string_view(request.user_agent));
  }
  if (request.body_size_known) {
    Add(attrs, "http.request.body.size", static_cast<int64_t>(request.body_size));
  }

  std::string error_type;
  if (exchange.has_response) {
    Add(attrs, "http.response.status_code", static_cast<int64_t>(response.status_code));
    if (response.body_size_known) {
      Add(attrs, "http.response.body.size", static_cast<int64_t>(response.body_size));
    }
    bool failed = server ? response.status_code >= 500 : response.status_code >= 400;
    if (failed) error_type = std::to_string(response.status_code);
  }
  if (exchange.error != http1::ExchangeError::kNone) {
    error_type = std::string(http1::ToString(exchange.error));
  }
  if (!error_type.empty()) {
    span.status = StatusCode::kError;
    Add(attrs, "error.type", std::move(error_type));
  }
  Add(attrs, "weft.link.source", ToString(request.context.link_source));

  if (!known_method) {
    span.name = "HTTP";
  } else if (!has_route) {
    span.name = std::string(method);
  }
  return span;
}

}  // namespace weft
