// Events -> connections -> HTTP exchanges -> spans -> exporter. Single
// threaded: the agent's event loop calls OnEvent and Tick; the exporter owns
// any threads it needs and never blocks Export.
#pragma once

#include <cstdint>
#include <memory>
#include <vector>

#include "absl/container/flat_hash_set.h"
#include "agent/conn/connection_tracker.h"
#include "agent/events/event.h"
#include "agent/links/async_contexts.h"
#include "agent/links/handoff_linker.h"
#include "agent/resources/resource_cache.h"
#include "agent/spans/span_builder.h"
#include "exporters/exporter.h"

namespace weft {

struct PipelineOptions {
  TrackerOptions tracker;
  SpanBuildOptions spans;
  HandoffOptions handoff;
  AsyncContextOptions async_contexts;
  // Spans are handed to the exporter in batches of at most this many, and at
  // every Tick.
  size_t export_batch = 256;
};

struct PipelineStats {
  uint64_t exchanges = 0;
  uint64_t spans = 0;
  uint64_t server_spans = 0;
  uint64_t client_spans = 0;
  uint64_t processes_exited = 0;
  HandoffStats handoff;
  AsyncTaskStats async_task;
  AsyncContextStats async_contexts;
};

class SpanPipeline {
 public:
  SpanPipeline(PipelineOptions options, SpanExporter* exporter, resources::ResourceCache* resources,
               int64_t monotonic_to_unix_ns);

  void OnEvent(const Event& event);
  // Expires idle connections and hands buffered spans to the exporter.
  void Tick(uint64_t now_monotonic_ns);
  // Exports everything, including spans held for an undecided parent (call
  // before the exporter shuts down).
  void Flush();

  const PipelineStats& stats() const {
    stats_.handoff = linker_.stats();
    stats_.async_task = linker_.async_stats();
    stats_.async_contexts = async_contexts_.stats();
    return stats_;
  }
  const TrackerStats& tracker_stats() const { return tracker_.stats(); }

 private:
  void OnData(const DataEvent& data);
  void OnExchange(const http1::HttpExchange& exchange);
  void ExportPending();

  PipelineOptions options_;
  SpanExporter* exporter_;
  resources::ResourceCache* resources_;
  int64_t clock_offset_;
  ConnectionTracker tracker_;
  std::vector<Span> pending_;
  absl::flat_hash_set<uint32_t> known_processes_;  // resources resolved
  HandoffLinker linker_;
  AsyncContextRegistry async_contexts_;
  std::vector<uint64_t> lineage_scratch_;
  mutable PipelineStats stats_;
};

}  // namespace weft
