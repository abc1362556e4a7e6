// The span and resource values that flow from span building to exporters.
// Plain values: exporters never reach back into the pipeline.
#pragma once

#include <array>
#include <cstdint>
#include <memory>
#include <string>
#include <variant>
#include <vector>

#include "agent/model/attribute_key.h"

namespace weft {

using TraceId = std::array<uint8_t, 16>;
using SpanId = std::array<uint8_t, 8>;

inline bool IsZero(const TraceId& id) {
  for (auto b : id)
    if (b) return false;
  return true;
}
inline bool IsZero(const SpanId& id) {
  for (auto b : id)
    if (b) return false;
  return true;
}

// Values match opentelemetry.proto.trace.v1.Span.SpanKind.
enum class SpanKind : int { kUnspecified = 0, kInternal = 1, kServer = 2, kClient = 3 };
// Values match opentelemetry.proto.trace.v1.Status.StatusCode.
enum class StatusCode : int { kUnset = 0, kOk = 1, kError = 2 };

using AttributeValue = std::variant<std::string, int64_t, double, bool>;

struct Attribute {
  AttributeKey key;
  AttributeValue value;
};

using Attributes = std::vector<Attribute>;

// One per traced process (service.name, process.pid, host.name, ...).
struct Resource {
  Attributes attributes;
  // Convenience copy of the service.name attribute, for the console.
  std::string service_name;
};

struct Span {
  TraceId trace_id{};
  SpanId span_id{};
  SpanId parent_span_id{};  // all zero: a root span
  std::string trace_state;
  uint8_t trace_flags = 1;  // W3C flags; bit 0 = sampled
  std::string name;
  SpanKind kind = SpanKind::kInternal;
  uint64_t start_unix_nano = 0;
  uint64_t end_unix_nano = 0;
  Attributes attributes;
  StatusCode status = StatusCode::kUnset;
  std::string status_message;
  std::shared_ptr<const Resource> resource;

  bool IsRoot() const { return IsZero(parent_span_id); }
};

// Lower-case hex, as W3C Trace Context and most backends print ids.
template <size_t N>
std::string ToHex(const std::array<uint8_t, N>& id) {
  static constexpr char kDigits[] = "0123456789abcdef";
  std::string out(2 * N, '0');
  for (size_t i = 0; i < N; ++i) {
    out[2 * i] = kDigits[id[i] >> 4];
    out[2 * i + 1] = kDigits[id[i] & 0xf];
  }
  return out;
}

}  // namespace weft
