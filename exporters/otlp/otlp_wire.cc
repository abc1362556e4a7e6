#include "exporters/otlp/otlp_wire.h"

#include <cstring>
#include <type_traits>
#include <utility>
#include <variant>

#include "exporters/otlp/otlp_encoder.h"

namespace weft {
namespace {

// Field numbers from opentelemetry-proto (exporters/otlp/proto). Every field
// number below 16 has a one-byte tag; Span.flags (16) has a two-byte one.
namespace field {
constexpr uint32_t kRequestResourceSpans = 1;
constexpr uint32_t kResourceSpansResource = 1;
constexpr uint32_t kResourceSpansScopeSpans = 2;
constexpr uint32_t kResourceAttributes = 1;
constexpr uint32_t kScopeSpansScope = 1;
constexpr uint32_t kScopeSpansSpans = 2;
constexpr uint32_t kScopeName = 1;
constexpr uint32_t kScopeVersion = 2;
constexpr uint32_t kSpanTraceId = 1;
constexpr uint32_t kSpanSpanId = 2;
constexpr uint32_t kSpanTraceState = 3;
constexpr uint32_t kSpanParentSpanId = 4;
constexpr uint32_t kSpanName = 5;
constexpr uint32_t kSpanKind = 6;
constexpr uint32_t kSpanStart = 7;
constexpr uint32_t kSpanEnd = 8;
constexpr uint32_t kSpanAttributes = 9;
constexpr uint32_t kSpanStatus = 15;
constexpr uint32_t kSpanFlags = 16;
constexpr uint32_t kStatusMessage = 2;
constexpr uint32_t kStatusCode = 3;
constexpr uint32_t kKeyValueKey = 1;
constexpr uint32_t kKeyValueValue = 2;
constexpr uint32_t kAnyString = 1;
constexpr uint32_t kAnyBool = 2;
constexpr uint32_t kAnyInt = 3;
constexpr uint32_t kAnyDouble = 4;
}  // namespace field

enum WireType : uint32_t { kVarint = 0, kFixed64 = 1, kLengthDelimited = 2, kFixed32 = 5 };

constexpr uint32_t Tag(uint32_t field_number, WireType type) { return field_number << 3 | type; }

inline size_t VarintSize(uint64_t v) {
  size_t n = 1;
  while (v >= 0x80) {
    v >>= 7;
    ++n;
  }
  return n;
}

// A length-delimited field with a one-byte tag and a body of `length` bytes.
inline size_t NestedSize(uint64_t length) { return 1 + VarintSize(length) + length; }

inline bool HasStatus(const Span& span) {
  return span.status != StatusCode::kUnset || !span.status_message.empty();
}
inline bool HasStatusMessage(const Span& span) {
  // The spec allows a description only with ERROR.
  return span.status == StatusCode::kError && !span.status_message.empty();
}

size_t AnyValueSize(const AttributeValue& value) {
  return std::visit(
      [](const auto& v) -> size_t {
        using T = std::decay_t<decltype(v)>;
        if constexpr (std::is_same_v<T, std::string>) {
          return NestedSize(v.size());
        } else if constexpr (std::is_same_v<T, int64_t>) {
          return 1 + VarintSize(static_cast<uint64_t>(v));
        } else if constexpr (std::is_same_v<T, double>) {
          return 1 + 8;
        } else {
          return 1 + 1;
        }
      },
      value);
}

size_t KeyValueSize(const Attribute& attribute) {
  std::string_view key = attribute.key;
  size_t size = key.empty() ? 0 : NestedSize(key.size());
  return size + NestedSize(AnyValueSize(attribute.value));
}

size_t AttributesSize(const Attributes& attributes) {
  size_t size = 0;
  for (const Attribute& attribute : attributes) size += NestedSize(KeyValueSize(attribute));
  return size;
}

size_t StatusSize(const Span& span) {
  size_t size = 0;
  if (HasStatusMessage(span)) size += NestedSize(span.status_message.size());
  if (span.status != StatusCode::kUnset) size += 1 + VarintSize(static_cast<uint64_t>(span.status));
  return size;
}

size_t SpanSize(const Span& span) {
  size_t size = NestedSize(span.trace_id.size()) + NestedSize(span.span_id.size());
  if (!span.trace_state.empty()) size += NestedSize(span.trace_state.size());
  if (!span.IsRoot()) size += NestedSize(span.parent_span_id.size());
  if (!span.name.empty()) size += NestedSize(span.name.size());
  if (span.kind != SpanKind::kUnspecified) size += 1 + VarintSize(static_cast<uint64_t>(span.kind));
  if (span.start_unix_nano != 0) size += 1 + 8;
  if (span.end_unix_nano != 0) size += 1 + 8;
  size += AttributesSize(span.attributes);
  if (HasStatus(span)) size += NestedSize(StatusSize(span));
  if (span.trace_flags != 0) size += 2 + 4;
  return size;
}

size_t ScopeSize(std::string_view version) {
  size_t size = NestedSize(kOtlpScopeName.size());
  if (!version.empty()) size += NestedSize(version.size());
  return size;
}

// Writes into a buffer already sized for everything; no bounds checks.
class Writer {
 public:
  explicit Writer(char* at) : p_(at) {}
  char* position() const { return p_; }

  void Varint(uint64_t v) {
    while (v >= 0x80) {
      *p_++ = static_cast<char>(v | 0x80);
      v >>= 7;
    }
    *p_++ = static_cast<char>(v);
  }
  void Fixed64(uint64_t v) {
    for (int i = 0; i < 8; ++i) *p_++ = static_cast<char>(v >> (8 * i));
  }
  void Fixed32(uint32_t v) {
    for (int i = 0; i < 4; ++i) *p_++ = static_cast<char>(v >> (8 * i));
  }
  void Raw(const void* data, size_t n) {
    std::memcpy(p_, data, n);
    p_ += n;
  }
  // Tag and length of a length-delimited field whose body follows.
  void Header(uint32_t field_number, uint64_t length) {
    Varint(Tag(field_number, kLengthDelimited));
    Varint(length);
  }
  void Bytes(uint32_t field_number, std::string_view bytes) {
    Header(field_number, bytes.size());
    Raw(bytes.data(), bytes.size());
  }
  template <size_t N>
  void Bytes(uint32_t field_number, const std::array<uint8_t, N>& id) {
    Header(field_number, N);
    Raw(id.data(), N);
  }

  void AnyValue(const AttributeValue& value) {
    std::visit(
        [this](const auto& v) {
          using T = std::decay_t<decltype(v)>;
          if constexpr (std::is_same_v<T, std::string>) {
            Bytes(field::kAnyString, v);
          } else if constexpr (std::is_same_v<T, int64_t>) {
            Varint(Tag(field::kAnyInt, kVarint));
            Varint(static_cast<uint64_t>(v));
          } else if constexpr (std::is_same_v<T, double>) {
            uint64_t bits;
            std::memcpy(&bits, &v, sizeof bits);
            Varint(Tag(field::kAnyDouble, kFixed64));
            Fixed64(bits);
          } else {
            Varint(Tag(field::kAnyBool, kVarint));
            Varint(v ? 1 : 0);
          }
        },
        value);
  }

  void Attributes(uint32_t field_number, const weft::Attributes& attributes) {
    for (const Attribute& attribute : attributes) {
      std::string_view key = attribute.key;
      size_t value_size = AnyValueSize(attribute.value);
      size_t body = (key.empty() ? 0 : NestedSize(key.size())) + NestedSize(value_size);
      Header(field_number, body);
      if (!key.empty()) Bytes(field::kKeyValueKey, key);
      Header(field::kKeyValueValue, value_size);
      AnyValue(attribute.value);
    }
  }

  void Span(const weft::Span& span, size_t body_size) {
    Header(field::kScopeSpansSpans, body_size);
    Bytes(field::kSpanTraceId, span.trace_id);
    Bytes(field::kSpanSpanId, span.span_id);
    if (!span.trace_state.empty()) Bytes(field::kSpanTraceState, span.trace_state);
    if (!span.IsRoot()) Bytes(field::kSpanParentSpanId, span.parent_span_id);
    if (!span.name.empty()) Bytes(field::kSpanName, span.name);
    if (span.kind != SpanKind::kUnspecified) {
      Varint(Tag(field::kSpanKind, kVarint));
      Varint(static_cast<uint64_t>(span.kind));
    }
    if (span.start_unix_nano != 0) {
      Varint(Tag(field::kSpanStart, kFixed64));
      Fixed64(span.start_unix_nano);
    }
    if (span.end_unix_nano != 0) {
      Varint(Tag(field::kSpanEnd, kFixed64));
      Fixed64(span.end_unix_nano);
    }
    Attributes(field::kSpanAttributes, span.attributes);
    if (HasStatus(span)) {
      Header(field::kSpanStatus, StatusSize(span));
      if (HasStatusMessage(span)) Bytes(field::kStatusMessage, span.status_message);
      if (span.status != StatusCode::kUnset) {
        Varint(Tag(field::kStatusCode, kVarint));
        Varint(static_cast<uint64_t>(span.status));
      }
    }
    if (span.trace_flags != 0) {
      // Only the low 8 bits (the W3C trace flags) are set.
      Varint(Tag(field::kSpanFlags, kFixed32));
      Fixed32(span.trace_flags);
    }
  }

 private:
  char* p_;
};

}  // namespace

OtlpWireEncoder::OtlpWireEncoder(std::string scope_version)
    : scope_version_(std::move(scope_version)) {}

void OtlpWireEncoder::GroupByResource(const std::vector<Span>& spans) {
  groups_.clear();
  group_index_.clear();
  group_of_span_.resize(spans.size());
  // Batches hold spans of a handful of processes, often in runs of the same
  // one: the last group is checked before the index.
  uint32_t last = 0;
  for (size_t i = 0; i < spans.size(); ++i) {
    const Resource* resource = spans[i].resource.get();
    if (groups_.empty() || groups_[last].resource != resource) {
      auto [it, inserted] =
          group_index_.try_emplace(resource, static_cast<uint32_t>(groups_.size()));
      if (inserted) groups_.push_back(Group{resource});
      last = it->second;
    }
    Group& group = groups_[last];
    ++group.spans;
    group.spans_bytes += NestedSize(span_size_[i]);
    group_of_span_[i] = last;
  }
  // Counting sort: the spans of each group, in their original order.
  cursor_.clear();
  uint32_t next = 0;
  for (Group& group : groups_) {
    group.first = next;
    cursor_.push_back(next);
    next += group.spans;
  }
  order_.resize(spans.size());
  for (size_t i = 0; i < spans.size(); ++i) {
    order_[cursor_[group_of_span_[i]]++] = static_cast<uint32_t>(i);
  }
}

void OtlpWireEncoder::Encode(const std::vector<Span>& spans, std::string* out) {
  span_size_.resize(spans.size());
  for (size_t i = 0; i < spans.size(); ++i) {
    span_size_[i] = static_cast<uint32_t>(SpanSize(spans[i]));
  }
  GroupByResource(spans);

  const size_t scope_size = ScopeSize(scope_version_);
  size_t total = 0;
  for (Group& group : groups_) {
    group.resource_bytes = group.resource ? AttributesSize(group.resource->attributes) : 0;
    group.scope_spans_bytes = NestedSize(scope_size) + group.spans_bytes;
    group.resource_spans_bytes =
        NestedSize(group.resource_bytes) + NestedSize(group.scope_spans_bytes);
    total += NestedSize(group.resource_spans_bytes);
  }
  out->resize(total);

  Writer writer(out->data());
  for (const Group& group : groups_) {
    writer.Header(field::kRequestResourceSpans, group.resource_spans_bytes);
    writer.Header(field::kResourceSpansResource, group.resource_bytes);
    if (group.resource) writer.Attributes(field::kResourceAttributes, group.resource->attributes);
    writer.Header(field::kResourceSpansScopeSpans, group.scope_spans_bytes);
    writer.Header(field::kScopeSpansScope, scope_size);
    writer.Bytes(field::kScopeName, std::string_view(kOtlpScopeName.data(), kOtlpScopeName.size()));
    if (!scope_version_.empty()) writer.Bytes(field::kScopeVersion, scope_version_);
    for (uint32_t k = group.first; k < group.first + group.spans; ++k) {
      uint32_t i = order_[k];
      writer.Span(spans[i], span_size_[i]);
    }
  }
}

std::string EncodeExportRequest(const std::vector<Span>& spans, std::string_view scope_version) {
  OtlpWireEncoder encoder{std::string(scope_version)};
  std::string out;
  encoder.Encode(spans, &out);
  return out;
}

}  // namespace weft
