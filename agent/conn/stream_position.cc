#include "agent/conn/stream_position.h"

namespace weft {

Placement StreamPosition::Place(const DataEvent& event) {
  Placement out;
  std::string_view data = event.size_only ? std::string_view() : event.data;
  if (data.size() > event.total_len) data = data.substr(0, event.total_len);
  uint64_t uncaptured = event.total_len - data.size();
  if (!event.has_seq) {
    // No position: trust arrival order.
    out.data = data;
    out.data_at_event_start = true;
    out.gap_after = uncaptured;
    return out;
  }
  if (started_) {
    // Serial-number arithmetic (RFC 1982): the signed distance survives wraparound.
    auto distance = static_cast<int32_t>(event.seq - next_seq_);
    if (distance > 0) {
      out.gap_before = static_cast<uint32_t>(distance) <= kMaxPlausibleGap
                           ? static_cast<uint64_t>(distance)
                           : kUnknownGapLength;
    } else if (distance < 0) {
      uint64_t seen = static_cast<uint64_t>(-static_cast<int64_t>(distance));
      if (seen >= event.total_len) {
        out.overlap = event.total_len;
        return out;  // nothing new; the stream position stays
      }
      out.overlap = seen;
      if (seen >= data.size()) {
        uncaptured -= seen - data.size();
        data = {};
      } else {
        data.remove_prefix(seen);
      }
      out.data = data;
      out.data_at_event_start = false;
      out.gap_after = uncaptured;
      next_seq_ = event.seq + event.total_len;
      return out;
    }
  }
  started_ = true;
  next_seq_ = event.seq + event.total_len;
  out.data = data;
  out.data_at_event_start = true;
  out.gap_after = uncaptured;
  return out;
}

}  // namespace weft
