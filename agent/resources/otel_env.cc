#include "agent/resources/otel_env.h"

#include <algorithm>

#include <fmt/format.h>

#include "agent/resources/text.h"

namespace weft::resources {
namespace {

int HexDigit(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

}  // namespace

absl::StatusOr<std::string> PercentDecode(std::string_view encoded) {
  std::string decoded;
  decoded.reserve(encoded.size());
  for (size_t i = 0; i < encoded.size(); ++i) {
    if (encoded[i] != '%') {
      decoded.push_back(encoded[i]);
      continue;
    }
    if (i + 2 >= encoded.size()) {
      return absl::InvalidArgumentError(fmt::format("incomplete %-escape in \"{}\"", encoded));
    }
    const int high = HexDigit(encoded[i + 1]);
    const int low = HexDigit(encoded[i + 2]);
    if (high < 0 || low < 0) {
      return absl::InvalidArgumentError(fmt::format("bad %-escape in \"{}\"", encoded));
    }
    decoded.push_back(static_cast<char>(high * 16 + low));
    i += 2;
  }
  return decoded;
}

absl::StatusOr<KeyValues> ParseOtelResourceAttributes(std::string_view value) {
  KeyValues pairs;
  for (std::string_view member : SplitOn(value, ',')) {
    member = TrimWhitespace(member);
    if (member.empty()) continue;
    const size_t equals = member.find('=');
    if (equals == std::string_view::npos) {
      return absl::InvalidArgumentError(fmt::format("member \"{}\" has no '='", member));
    }
    const std::string_view key = TrimWhitespace(member.substr(0, equals));
    if (key.empty()) {
      return absl::InvalidArgumentError(fmt::format("member \"{}\" has an empty key", member));
    }
    absl::StatusOr<std::string> decoded = PercentDecode(TrimWhitespace(member.substr(equals + 1)));
    if (!decoded.ok()) return decoded.status();
    auto existing = std::find_if(pairs.begin(), pairs.end(),
                                 [&](const auto& pair) { return pair.first == key; });
    if (existing != pairs.end()) {
      existing->second = std::move(*decoded);
    } else {
      pairs.emplace_back(std::string(key), std::move(*decoded));
    }
  }
  return pairs;
}

}  // namespace weft::resources
