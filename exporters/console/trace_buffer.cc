#include "exporters/console/trace_buffer.h"

#include <algorithm>
#include <unordered_set>

namespace weft {

namespace {
uint64_t Key(const SpanId& id) {
  uint64_t key = 0;
  for (uint8_t b : id) key = (key << 8) | b;
  return key;
}
}  // namespace

void TraceBuffer::Add(std::vector<Span> spans, absl::Time now) {
  for (Span& span : spans) {
    auto [it, inserted] = pending_.try_emplace(span.trace_id);
    Pending& trace = it->second;
    if (inserted) {
      trace.first_arrival = now;
      trace.arrival_order = next_arrival_order_++;
    }
    trace.last_arrival = now;
    trace.spans.push_back(std::move(span));
    ++buffered_spans_;
  }
}

bool TraceBuffer::HasRoot(const std::vector<Span>& spans) {
  std::unordered_set<uint64_t> ids;
  for (const Span& span : spans) ids.insert(Key(span.span_id));
  for (const Span& span : spans) {
    if (span.IsRoot()) return true;
    // A SERVER span whose caller is not in this trace here was called from an
    // untraced or remote client: it is the local root.
    if (span.kind == SpanKind::kServer && !ids.contains(Key(span.parent_span_id))) return true;
  }
  return false;
}

void TraceBuffer::Remember(const TraceId& id) {
  if (options_.remembered_traces == 0 || printed_.contains(id)) return;
  printed_.insert(id);
  printed_order_.push_back(id);
  while (printed_order_.size() > options_.remembered_traces) {
    printed_.erase(printed_order_.front());
    printed_order_.pop_front();
  }
}

ReadyTrace TraceBuffer::Take(std::map<TraceId, Pending>::iterator it, ReadyTrace::Reason reason) {
  ReadyTrace ready;
  ready.trace_id = it->first;
  ready.spans = std::move(it->second.spans);
  ready.reason = reason;
  buffered_spans_ -= ready.spans.size();
  pending_.erase(it);
  Remember(ready.trace_id);
  return ready;
}

std::vector<ReadyTrace> TraceBuffer::TakeReady(absl::Time now) {
  struct Candidate {
    uint64_t order;
    TraceId id;
    ReadyTrace::Reason reason;
  };
  std::vector<Candidate> chosen;
  for (const auto& [id, trace] : pending_) {
    const bool quiet = now - trace.last_arrival >= options_.grace;
    if (quiet && printed_.contains(id)) {
      chosen.push_back({trace.arrival_order, id, ReadyTrace::Reason::kLate});
    } else if (quiet && HasRoot(trace.spans)) {
      chosen.push_back({trace.arrival_order, id, ReadyTrace::Reason::kComplete});
    } else if (now - trace.first_arrival >= options_.incomplete_timeout) {
      chosen.push_back({trace.arrival_order, id, ReadyTrace::Reason::kTimedOut});
    }
  }
  // Past the memory bound, the oldest remaining traces go out early.
  if (buffered_spans_ > options_.max_buffered_spans) {
    std::vector<std::pair<uint64_t, TraceId>> by_age;
    std::set<TraceId> already;
    for (const Candidate& c : chosen) already.insert(c.id);
    for (const auto& [id, trace] : pending_) {
      if (!already.contains(id)) by_age.emplace_back(trace.arrival_order, id);
    }
    std::sort(by_age.begin(), by_age.end());
    size_t remaining = buffered_spans_;
    for (const Candidate& c : chosen) remaining -= pending_.at(c.id).spans.size();
    for (const auto& [order, id] : by_age) {
      if (remaining <= options_.max_buffered_spans) break;
      remaining -= pending_.at(id).spans.size();
      chosen.push_back({order, id, ReadyTrace::Reason::kEvicted});
    }
  }
  std::sort(chosen.begin(), chosen.end(),
            [](const Candidate& a, const Candidate& b) { return a.order < b.order; });
  std::vector<ReadyTrace> ready;
  ready.reserve(chosen.size());
  for (const Candidate& c : chosen) ready.push_back(Take(pending_.find(c.id), c.reason));
  return ready;
}

std::vector<ReadyTrace> TraceBuffer::TakeAll() {
  std::vector<std::pair<uint64_t, TraceId>> by_age;
  for (const auto& [id, trace] : pending_) by_age.emplace_back(trace.arrival_order, id);
  std::sort(by_age.begin(), by_age.end());
  std::vector<ReadyTrace> ready;
  for (const auto& [order, id] : by_age) {
    auto it = pending_.find(id);
    const bool complete = HasRoot(it->second.spans);
    ready.push_back(Take(it, printed_.contains(id) ? ReadyTrace::Reason::kLate
                             : complete            ? ReadyTrace::Reason::kComplete
                                                   : ReadyTrace::Reason::kFlushed));
  }
  return ready;
}

}  // namespace weft
