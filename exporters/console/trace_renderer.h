// Renders one trace as a text tree with a waterfall bar per span (pure).
#pragma once

#include <string>
#include <vector>

#include "agent/model/span.h"
#include "exporters/console/trace_buffer.h"

namespace weft {

struct RenderOptions {
  bool color = false;    // ANSI colours (only for terminals)
  bool unicode = false;  // block characters for the bar instead of '='
  int bar_width = 30;
  int max_label_width = 80;  // service + kind + name column, truncated beyond
};

// Header "trace <id>  <n> spans  <duration> ms", then one line per span in tree
// order (siblings by start time): indentation by depth, service, kind, name,
// status, duration and the bar relative to the whole trace. Spans whose parent
// is missing hang under the root, marked as orphans.
std::string RenderTrace(const ReadyTrace& trace, const RenderOptions& options);

}  // namespace weft
