// One JSON object per event, for `weft run --events`: the tool for
// debugging probes. Captured bytes become a JSON string with one character
// per byte (Latin-1), so `data.encode("latin-1")` restores them exactly;
// non-printable bytes appear as \u00XX escapes.
#pragma once

#include <string>

#include "agent/events/event.h"

namespace weft {

// monotonic_to_unix_ns: add to a CLOCK_MONOTONIC timestamp for wall-clock ns.
std::string EventToJson(const Event& event, int64_t monotonic_to_unix_ns);

// CLOCK_REALTIME - CLOCK_MONOTONIC, now.
int64_t MonotonicToUnixOffsetNs();

}  // namespace weft
