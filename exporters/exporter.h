// The interface every span exporter implements (console, OTLP/gRPC, OTLP/HTTP).
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "absl/time/time.h"
#include "agent/model/span.h"

namespace weft {

// Counters an exporter keeps; a snapshot, safe to read from any thread.
struct ExporterStats {
  uint64_t spans_exported = 0;   // accepted by the backend (or printed by the console)
  uint64_t spans_dropped = 0;    // refused because the queue / buffer was full
  uint64_t spans_failed = 0;     // given up on after a non-retryable error or exhausted retries
  uint64_t spans_rejected = 0;   // accepted on the wire but rejected by partial_success
  uint64_t retries = 0;          // export attempts repeated after a retryable error
  uint64_t export_requests = 0;  // requests sent, including retries
  // Console only: traces printed without their root (timeout or memory bound).
  uint64_t traces_incomplete = 0;
  std::string last_error;  // empty if there never was one
};

class SpanExporter {
 public:
  virtual ~SpanExporter() = default;

  // Hands spans over. Never blocks on I/O and never waits for the backend:
  // capture must not slow down because a collector is slow or unreachable.
  // When the exporter's queue is full the spans are dropped and counted.
  virtual void Export(std::vector<Span> spans) = 0;

  // Exports everything handed over before this call, waiting at most until
  // `deadline`. Returns false if the deadline passed first.
  virtual bool ForceFlush(absl::Time deadline) = 0;

  // Flushes what is queued (bounded by `deadline`) and stops; Export() after
  // Shutdown() drops. Idempotent.
  virtual void Shutdown(absl::Time deadline) = 0;

  virtual ExporterStats stats() const = 0;
};

}  // namespace weft
