// weft::Span values -> serialized OTLP ExportTraceServiceRequest bytes, written
// straight from the spans with no protobuf message tree in between. The
// output is byte for byte what BuildExportRequest + SerializeToString give
// (fields in field-number order, proto3 defaults omitted, exact minimal
// length prefixes), at a fraction of the cost: exact sizes are computed
// first, so every byte is written once into one buffer.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "agent/model/span.h"

namespace weft {

// Reusable: keeps its scratch (the span grouping) between calls. Not
// thread-safe; one per exporting thread.
class OtlpWireEncoder {
 public:
  explicit OtlpWireEncoder(std::string scope_version);

  // Replaces `*out` with the request: one ResourceSpans per distinct Resource
  // (shared_ptr identity, in order of first appearance), each holding a single
  // ScopeSpans "weft" at the scope version; span order kept within a resource.
  void Encode(const std::vector<Span>& spans, std::string* out);

 private:
  struct Group {
    const Resource* resource = nullptr;
    uint32_t spans = 0;        // how many spans belong to it
    uint32_t first = 0;        // its first position in order_
    uint64_t spans_bytes = 0;  // sum of its encoded Span fields (tag + length + body)
    // Body sizes of its Resource, ScopeSpans and ResourceSpans messages.
    uint64_t resource_bytes = 0;
    uint64_t scope_spans_bytes = 0;
    uint64_t resource_spans_bytes = 0;
  };

  void GroupByResource(const std::vector<Span>& spans);

  std::string scope_version_;
  std::vector<Group> groups_;
  std::vector<uint32_t> group_of_span_;
  std::vector<uint32_t> span_size_;  // encoded body size of each span
  std::vector<uint32_t> order_;      // span indices, grouped by resource
  std::vector<uint32_t> cursor_;     // per group: next free slot in order_
  absl::flat_hash_map<const Resource*, uint32_t> group_index_;
};

// Convenience for one-off callers (tests, tools).
std::string EncodeExportRequest(const std::vector<Span>& spans, std::string_view scope_version);

}  // namespace weft
