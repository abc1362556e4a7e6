// Places each event's bytes in its direction's byte stream: by TCP sequence
// number (wrap-safe) when the kernel gave one, else by running offset. Finds
// the holes lost, truncated and size-only events leave behind.
#pragma once

#include <cstdint>
#include <string_view>

#include "agent/events/event.h"

namespace weft {

// A hole whose size is not known (the sequence space jumped implausibly far).
inline constexpr uint64_t kUnknownGapLength = ~uint64_t{0};

struct Placement {
  uint64_t gap_before = 0;           // stream bytes missing before `data`
  std::string_view data;             // new bytes, in order
  bool data_at_event_start = false;  // `data` begins at the event's first byte
  uint64_t gap_after = 0;            // bytes the event moved but did not capture
  uint64_t overlap = 0;              // bytes already seen (peeks, retransmitted reads), dropped
};

class StreamPosition {
 public:
  // Sequence jumps beyond this are not believed to be measured holes (a reused
  // or reset sequence space): reported as a hole of kUnknownGapLength.
  static constexpr uint32_t kMaxPlausibleGap = 1u << 30;

  Placement Place(const DataEvent& event);

 private:
  bool started_ = false;
  uint32_t next_seq_ = 0;
};

}  // namespace weft
