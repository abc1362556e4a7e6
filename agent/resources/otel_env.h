// The OpenTelemetry environment format for resource attributes:
// OTEL_RESOURCE_ATTRIBUTES="key1=value1,key2=value2", values percent-encoded
// as in W3C Baggage.
#pragma once

#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "absl/status/statusor.h"

namespace weft::resources {

using KeyValues = std::vector<std::pair<std::string, std::string>>;

// Decodes %XX escapes; an incomplete or non-hex escape is an error.
absl::StatusOr<std::string> PercentDecode(std::string_view encoded);

// Parses the whole variable. Per the OpenTelemetry SDK specification, any
// malformed member (no '=', empty key, bad escape) makes the WHOLE value
// invalid: the caller discards it rather than keep a guessed subset.
// Whitespace around keys and values is trimmed; empty members are skipped.
// A key given twice keeps its last value.
absl::StatusOr<KeyValues> ParseOtelResourceAttributes(std::string_view value);

}  // namespace weft::resources
