// Pure helpers behind the url.* and http.route attributes: splitting a
// request-target, the route heuristic, and redaction.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

namespace weft {

inline constexpr std::string_view kRedacted = "REDACTED";

// The parts of an HTTP/1 request-target (origin-form "/p?q" or absolute-form
// "http://user@host:port/p?q"). Views into the target.
struct TargetParts {
  bool absolute = false;
  std::string_view scheme;  // absolute-form only
  std::string_view host;    // absolute-form only
  std::string_view port;    // absolute-form only, may be empty
  bool has_userinfo = false;
  std::string_view path;   // "" when the target has none (e.g. "*")
  std::string_view query;  // without '?'; empty when absent
  bool has_query = false;
};
TargetParts SplitTarget(std::string_view target);

// True for a path segment that is an identifier rather than a name: all
// digits, a UUID (8-4-4-4-12 hex), or 16 or more hex digits.
bool IsIdSegment(std::string_view segment);

// "/users/42/orders/9f8e..." -> "/users/{id}/orders/{id}". The query is not
// part of a route; an empty path becomes "/".
std::string InferRoute(std::string_view path);

// "a=1&b&c=2" -> "a=REDACTED&b&c=REDACTED": keys stay, values go.
std::string RedactQueryValues(std::string_view query);

// Headers whose values must never be exported (credentials, sessions).
bool IsSensitiveHeader(std::string_view name);

// "example.com:8080" -> host "example.com", port 8080; "[::1]" -> "::1",
// port 0 (absent). False when the value is not a plausible host.
bool ParseHostHeader(std::string_view value, std::string_view* host, uint16_t* port);

}  // namespace weft
