#include "agent/spans/url_attributes.h"

#include <array>
#include <charconv>

namespace weft {
namespace {

bool IsHex(char c) {
  return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F');
}

char Lower(char c) { return (c >= 'A' && c <= 'Z') ? static_cast<char>(c + 32) : c; }

bool EqualsIgnoreCase(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  for (size_t i = 0; i < a.size(); ++i)
    if (Lower(a[i]) != Lower(b[i])) return false;
  return true;
}

std::string_view StripSpace(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
  return s;
}

bool AllOf(std::string_view s, bool (*pred)(char)) {
  for (char c : s)
    if (!pred(c)) return false;
  return true;
}

bool IsDigitChar(char c) { return c >= '0' && c <= '9'; }

bool IsUuid(std::string_view s) {
  if (s.size() != 36) return false;
  for (size_t i = 0; i < s.size(); ++i) {
    bool dash_position = i == 8 || i == 13 || i == 18 || i == 23;
    if (dash_position ? s[i] != '-' : !IsHex(s[i])) return false;
  }
  return true;
}

}  // namespace

TargetParts SplitTarget(std::string_view target) {
  TargetParts parts;
  std::string_view rest = target;
  size_t scheme_end = rest.find("://");
  if (!rest.empty() && rest[0] != '/' && scheme_end != std::string_view::npos && scheme_end > 0) {
    parts.absolute = true;
    parts.scheme = rest.substr(0, scheme_end);
    rest.remove_prefix(scheme_end + 3);
    size_t authority_end = rest.find_first_of("/?#");
    std::string_view authority = rest.substr(0, authority_end);
    rest =
        authority_end == std::string_view::npos ? std::string_view() : rest.substr(authority_end);
    size_t at = authority.rfind('@');
    if (at != std::string_view::npos) {
      parts.has_userinfo = true;
      authority.remove_prefix(at + 1);
    }
    size_t colon = authority.rfind(':');
    size_t bracket = authority.rfind(']');
    if (colon != std::string_view::npos && (bracket == std::string_view::npos || colon > bracket)) {
      parts.port = authority.substr(colon + 1);
      authority = authority.substr(0, colon);
    }
    parts.host = authority;
  }
  size_t hash = rest.find('#');
  if (hash != std::string_view::npos) rest = rest.substr(0, hash);
  size_t question = rest.find('?');
  if (question != std::string_view::npos) {
    parts.has_query = true;
    parts.query = rest.substr(question + 1);
    rest = rest.substr(0, question);
  }
  parts.path = rest;
  return parts;
}

bool IsIdSegment(std::string_view segment) {
  if (segment.empty()) return false;
  if (AllOf(segment, IsDigitChar)) return true;
  if (IsUuid(segment)) return true;
  return segment.size() >= 16 && AllOf(segment, IsHex);
}

std::string InferRoute(std::string_view path) {
  if (path.empty()) return "/";
  std::string route;
  route.reserve(path.size());
  size_t pos = 0;
  while (pos <= path.size()) {
    size_t slash = path.find('/', pos);
    size_t end = slash == std::string_view::npos ? path.size() : slash;
    std::string_view segment = path.substr(pos, end - pos);
    if (IsIdSegment(segment)) {
      route += "{id}";
    } else {
      route.append(segment);
    }
    if (slash == std::string_view::npos) break;
    route += '/';
    pos = slash + 1;
  }
  return route;
}

std::string RedactQueryValues(std::string_view query) {
  std::string out;
  out.reserve(query.size() + 16);
  size_t pos = 0;
  while (pos <= query.size()) {
    size_t amp = query.find('&', pos);
    size_t end = amp == std::string_view::npos ? query.size() : amp;
    std::string_view param = query.substr(pos, end - pos);
    size_t eq = param.find('=');
    if (eq == std::string_view::npos) {
      out.append(param);
    } else {
      out.append(param.substr(0, eq + 1));
      out.append(kRedacted);
    }
    if (amp == std::string_view::npos) break;
    out += '&';
    pos = amp + 1;
  }
  return out;
}

bool IsSensitiveHeader(std::string_view name) {
  static constexpr std::array<std::string_view, 5> kSensitive = {
      "authorization", "proxy-authorization", "cookie", "set-cookie", "x-api-key"};
  for (std::string_view s : kSensitive) {
    if (EqualsIgnoreCase(name, s)) return true;
  }
  return false;
}

bool ParseHostHeader(std::string_view value, std::string_view* host, uint16_t* port) {
  value = StripSpace(value);
  if (value.empty()) return false;
  std::string_view name = value;
  std::string_view port_text;
  if (value[0] == '[') {
    size_t close = value.find(']');
    if (close == std::string_view::npos) return false;
    name = value.substr(1, close - 1);
    std::string_view after = value.substr(close + 1);
    if (!after.empty()) {
      if (after[0] != ':') return false;
      port_text = after.substr(1);
    }
  } else {
    size_t colon = value.find(':');
    if (colon != std::string_view::npos) {
      name = value.substr(0, colon);
      port_text = value.substr(colon + 1);
    }
  }
  if (name.empty()) return false;
  for (char c : name) {
    if (static_cast<unsigned char>(c) <= ' ' || c == '/' || c == '@') return false;
  }
  uint32_t parsed = 0;
  if (!port_text.empty()) {
    auto [end, ec] = std::from_chars(port_text.data(), port_text.data() + port_text.size(), parsed);
    if (ec != std::errc() || end != port_text.data() + port_text.size() || parsed == 0 ||
        parsed > 65535) {
      return false;
    }
  }
  *host = name;
  *port = static_cast<uint16_t>(parsed);
  return true;
}

}  // namespace weft
