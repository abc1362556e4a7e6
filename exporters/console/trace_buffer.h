// Collects spans per trace id until a trace looks complete, for the console.
// Spans arrive only when they have ended, children usually before parents.
#pragma once

#include <cstddef>
#include <deque>
#include <map>
#include <set>
#include <vector>

#include "absl/time/time.h"
#include "agent/model/span.h"

namespace weft {

struct TraceBufferOptions {
  // Quiet time after the last span of a trace (with a root seen) before it is
  // printed: late children of the root still make it into the tree.
  absl::Duration grace = absl::Milliseconds(300);
  // A trace without a root is printed anyway (marked incomplete) this long
  // after its first span arrived.
  absl::Duration incomplete_timeout = absl::Seconds(30);
  // Bound on buffered spans; the oldest traces are printed early past it.
  size_t max_buffered_spans = 50000;
  // How many printed trace ids are remembered to label late spans.
  size_t remembered_traces = 4096;
};

struct ReadyTrace {
  enum class Reason {
    kComplete,  // root seen and the grace period passed
    kLate,      // more spans of a trace that was already printed
    kTimedOut,  // no root within incomplete_timeout
    kEvicted,   // printed early to bound memory
    kFlushed,   // ForceFlush / Shutdown
  };
  TraceId trace_id{};
  std::vector<Span> spans;
  Reason reason = Reason::kComplete;
};

class TraceBuffer {
 public:
  explicit TraceBuffer(TraceBufferOptions options) : options_(options) {}

  void Add(std::vector<Span> spans, absl::Time now);

  // Traces ready at `now`, in order of first arrival.
  std::vector<ReadyTrace> TakeReady(absl::Time now);
  // Everything buffered, complete or not.
  std::vector<ReadyTrace> TakeAll();

  size_t buffered_spans() const { return buffered_spans_; }
  size_t buffered_traces() const { return pending_.size(); }

 private:
  struct Pending {
    std::vector<Span> spans;
    absl::Time first_arrival;
    absl::Time last_arrival;
    uint64_t arrival_order = 0;
  };

  static bool HasRoot(const std::vector<Span>& spans);
  void Remember(const TraceId& id);
  ReadyTrace Take(std::map<TraceId, Pending>::iterator it, ReadyTrace::Reason reason);

  const TraceBufferOptions options_;
  std::map<TraceId, Pending> pending_;
  size_t buffered_spans_ = 0;
  uint64_t next_arrival_order_ = 0;
  std::deque<TraceId> printed_order_;
  std::set<TraceId> printed_;
};

}  // namespace weft
