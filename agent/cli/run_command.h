#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "agent/probes/capture_probes.h"

namespace weft {

struct RunOptions {
  std::vector<int> pids;
  bool events = false;  // print kernel events as JSON lines instead of spans
  CaptureOptions capture;
  double duration_seconds = 0;  // 0: until SIGINT/SIGTERM
  // Span pipeline.
  std::string exporter;  // "", "console", "otlp", "none"
  std::string otlp_endpoint;
  std::string otlp_protocol;
  bool route_heuristic = true;
  bool keep_query_values = false;
  double stats_interval_seconds = 0;  // 0: only at exit
  bool go_probes = true;      // goroutine-aware parent links in Go programs (runtime uprobes)
  bool python_probes = true;  // asyncio task contexts in CPython programs (py_async_probes.h)
  // "headers" or "none"; empty: WEFT_PROPAGATE, else none.
  std::string propagate;
  // "inspector" or "none"; empty: WEFT_NODE_LINKS, else none.
  std::string node_links;
};

// The Node.js link mode from the flag (wins) or WEFT_NODE_LINKS: true for
// "inspector", false for "none" or unset; an error for anything else.
absl::StatusOr<bool> ResolveNodeLinks(const std::string& flag, const char* env_value);

// The propagation mode from the flag (wins) or WEFT_PROPAGATE: true for
// "headers", false for "none" or unset; an error for anything else.
absl::StatusOr<bool> ResolvePropagateHeaders(const std::string& flag, const char* env_value);

// `weft run`. Returns the process exit code (0 ok, 2 bad input or cannot run
// here, 1 failure while running).
int RunAgent(const RunOptions& options);

}  // namespace weft
