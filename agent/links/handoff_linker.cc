#include "agent/links/handoff_linker.h"

#include <utility>

namespace weft {
namespace {

void MarkHandoff(Span& call, const Span& server) {
  call.parent_span_id = server.span_id;
  call.trace_flags = server.trace_flags;
  call.trace_state = server.trace_state;
  for (auto& attribute : call.attributes) {
    if (attribute.key == "weft.link.source") attribute.value = std::string("handoff");
  }
}

}  // namespace

void HandoffLinker::OnOrphanRequestStart(const TraceId& trace, uint32_t tgid, uint32_t tid,
                                         uint64_t now_ns) {
  if (!options_.enabled || !pool_processes_.contains(tgid)) return;
  now_ns_ = std::max(now_ns_, now_ns);
  auto [it, inserted] = undecided_.try_emplace(trace);
  if (!inserted) return;
  it->second.registered_ns = now_ns;
  by_worker_[WorkerKey{tgid, tid}].push_back(trace);
  undecided_order_.emplace_back(now_ns, trace);
  ++stats_.orphan_calls;
}

void HandoffLinker::Add(Span span, const SpanFacts& facts, std::vector<Span>* ready) {
  if (!options_.enabled) {
    ready->push_back(std::move(span));
    return;
  }
  if (auto moved = moved_.find(span.trace_id); moved != moved_.end()) {
    span.trace_id = moved->second;
  }
  // An answer written by another thread than the reader: the evidence that
  // decides the writer's orphan calls.
  if (span.kind == SpanKind::kServer && facts.response_tid != 0 &&
      facts.response_tid != facts.request_tid) {
    pool_processes_.insert(facts.tgid);
    OnAnswer(span, facts, ready);
  }
  auto it = undecided_.find(span.trace_id);
  if (it == undecided_.end()) {
    ready->push_back(std::move(span));
    return;
  }
  Undecided& u = it->second;
  if (facts.orphan_client && span.kind == SpanKind::kClient && span.IsRoot() && !u.call_built) {
    u.call_built = true;
    u.call_span_id = span.span_id;
    u.call_start_ns = facts.request_start_ns;
    u.call_end_ns = facts.end_ns;
  }
  u.spans.push_back(std::move(span));
  ++held_spans_;
  ++stats_.spans_delayed;
  ReleaseOldestWhileOverfull(ready);
}

void HandoffLinker::OnAnswer(const Span& server, const SpanFacts& facts, std::vector<Span>* ready) {
  auto worker = by_worker_.find(WorkerKey{facts.tgid, facts.response_tid});
  if (worker == by_worker_.end()) return;
  std::deque<TraceId>& calls = worker->second;
  while (!calls.empty()) {
    const TraceId trace = calls.front();
    auto it = undecided_.find(trace);
    if (it == undecided_.end()) {  // already released
      calls.pop_front();
      continue;
    }
    const Undecided& u = it->second;
    // A call whose exchange is still open cannot be placed yet.
    if (!u.call_built) break;
    if (u.call_start_ns < facts.request_start_ns) {
      // Sent before this request was read: not part of its work, nor of any
      // later request's; the requests answered before were decided already.
      calls.pop_front();
      Release(trace, ready);
      continue;
    }
    if (facts.response_start_ns != 0 && u.call_end_ns > facts.response_start_ns) break;
    calls.pop_front();
    Link(trace, server, ready);
  }
  if (calls.empty()) by_worker_.erase(worker);
}

void HandoffLinker::Link(const TraceId& call_trace, const Span& server, std::vector<Span>* ready) {
  auto node = undecided_.extract(call_trace);
  Undecided& u = node.mapped();
  for (Span& span : u.spans) {
    span.trace_id = server.trace_id;
    if (span.span_id == u.call_span_id) MarkHandoff(span, server);
  }
  held_spans_ -= u.spans.size();
  ++stats_.linked;
  moved_[call_trace] = server.trace_id;
  moved_order_.emplace_back(now_ns_, call_trace);
  // The answered request may itself be undecided (a pool calling a pool).
  if (auto target = undecided_.find(server.trace_id); target != undecided_.end()) {
    for (Span& span : u.spans) target->second.spans.push_back(std::move(span));
    held_spans_ += u.spans.size();
    return;
  }
  for (Span& span : u.spans) ready->push_back(std::move(span));
}

void HandoffLinker::Release(const TraceId& trace, std::vector<Span>* ready) {
  auto node = undecided_.extract(trace);
  if (node.empty()) return;
  held_spans_ -= node.mapped().spans.size();
  ++stats_.released;
  for (Span& span : node.mapped().spans) ready->push_back(std::move(span));
}

void HandoffLinker::ReleaseOldestWhileOverfull(std::vector<Span>* ready) {
  while (held_spans_ > options_.max_held_spans && !undecided_order_.empty()) {
    TraceId oldest = undecided_order_.front().second;
    undecided_order_.pop_front();
    if (!undecided_.contains(oldest)) continue;
    ++stats_.held_overflows;
    Release(oldest, ready);
  }
}

void HandoffLinker::Expire(uint64_t now_ns, std::vector<Span>* ready) {
  now_ns_ = std::max(now_ns_, now_ns);
  while (!undecided_order_.empty() &&
         undecided_order_.front().first + options_.hold_ns <= now_ns_) {
    TraceId trace = undecided_order_.front().second;
    undecided_order_.pop_front();
    Release(trace, ready);
  }
  while (!moved_order_.empty() && moved_order_.front().first + options_.hold_ns <= now_ns_) {
    moved_.erase(moved_order_.front().second);
    moved_order_.pop_front();
  }
  // Worker queues only hold ids; drop the ones whose trace is gone.
  for (auto it = by_worker_.begin(); it != by_worker_.end();) {
    auto& calls = it->second;
    while (!calls.empty() && !undecided_.contains(calls.front())) calls.pop_front();
    if (calls.empty()) {
      by_worker_.erase(it++);
    } else {
      ++it;
    }
  }
}

void HandoffLinker::Flush(std::vector<Span>* ready) {
  while (!undecided_order_.empty()) {
    TraceId trace = undecided_order_.front().second;
    undecided_order_.pop_front();
    Release(trace, ready);
  }
  by_worker_.clear();
}

}  // namespace weft
