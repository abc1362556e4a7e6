// Span helpers shared by the linker and pipeline tests.
#pragma once

#include <cstdint>
#include <string>
#include <variant>
#include <vector>

#include "agent/model/span.h"

namespace weft::testing {

// Ids whose first byte is `n` and last byte `tag`: tests of different
// linkers use different tags so their ids never collide by accident.
inline TraceId MakeTraceId(uint8_t n, uint8_t tag) {
  TraceId id{};
  id[0] = n;
  id[15] = tag;
  return id;
}
inline SpanId MakeSpanId(uint8_t n, uint8_t tag) {
  SpanId id{};
  id[0] = n;
  id[7] = tag;
  return id;
}

inline Span SpanWithSource(SpanKind kind, TraceId trace, SpanId id, std::string link_source,
                           SpanId parent = {}) {
  Span s;
  s.kind = kind;
  s.trace_id = trace;
  s.span_id = id;
  s.parent_span_id = parent;
  s.attributes.push_back({"weft.link.source", std::move(link_source)});
  return s;
}

inline std::string LinkSourceOf(const Span& s) {
  for (const auto& a : s.attributes)
    if (a.key == "weft.link.source") return std::get<std::string>(a.value);
  return "";
}

inline const Span* FindSpan(const std::vector<Span>& spans, SpanId id) {
  for (const auto& s : spans)
    if (s.span_id == id) return &s;
  return nullptr;
}

}  // namespace weft::testing
