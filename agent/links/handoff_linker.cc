#include "agent/links/handoff_linker.h"

#include <algorithm>
#include <utility>

namespace weft {
namespace {

void MarkLinked(Span& call, const Span& server, const char* link_source) {
  call.parent_span_id = server.span_id;
  call.trace_flags = server.trace_flags;
  call.trace_state = server.trace_state;
  for (auto& attribute : call.attributes) {
    if (attribute.key == "weft.link.source") attribute.value = std::string(link_source);
  }
}

}  // namespace

bool HandoffLinker::Hold(const TraceId& trace, HeldBy rule, uint64_t now_ns) {
  now_ns_ = std::max(now_ns_, now_ns);
  auto [it, inserted] = undecided_.try_emplace(trace);
  if (inserted) {
    it->second.registered_ns = now_ns;
    undecided_order_.emplace_back(now_ns, trace);
  }
  if (it->second.held_by & rule) return false;
  it->second.held_by |= rule;
  return true;
}

void HandoffLinker::OnOrphanRequestStart(const TraceId& trace, uint32_t tgid, uint32_t tid,
                                         uint64_t now_ns) {
  if (!options_.enabled || !pool_processes_.contains(tgid)) return;
  if (!Hold(trace, kByThread, now_ns)) return;
  by_worker_[WorkerKey{tgid, tid}].push_back(trace);
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
  if (span.kind == SpanKind::kServer && facts.response_task != 0 && options_.async_tasks) {
    OnTaskAnswer(span, facts, ready);
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
  const bool call_arrived = u.call_built && u.call_span_id == span.span_id;
  const TraceId trace = span.trace_id;
  u.spans.push_back(std::move(span));
  ++held_spans_;
  if (u.held_by & kByThread) ++stats_.spans_delayed;
  if (u.held_by & kByTask) ++async_stats_.spans_delayed;
  // Its task may have answered already (the kernel reported the callee's
  // answer after the caller's own, say): decide it now.
  if (call_arrived && (u.held_by & kByTask)) DecideLateTaskCall(trace, ready);
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
    Link(trace, server, kByThread, ready);
  }
  if (calls.empty()) by_worker_.erase(worker);
}

void HandoffLinker::Link(const TraceId& call_trace, const Span& server, HeldBy rule,
                         std::vector<Span>* ready) {
  auto node = undecided_.extract(call_trace);
  Undecided& u = node.mapped();
  const char* link_source = rule == kByThread ? "handoff" : "async-task";
  for (Span& span : u.spans) {
    span.trace_id = server.trace_id;
    if (span.span_id == u.call_span_id) MarkLinked(span, server, link_source);
  }
  held_spans_ -= u.spans.size();
  // Each rule that held the call counts it once: linked by one, exported
  // unlinked as far as the other is concerned.
  if (rule == kByThread) ++stats_.linked;
  if (rule == kByTask) ++async_stats_.linked;
  if (rule != kByThread && (u.held_by & kByThread)) ++stats_.released;
  if (rule != kByTask && (u.held_by & kByTask)) ++async_stats_.released;
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
  if (node.mapped().held_by & kByThread) ++stats_.released;
  if (node.mapped().held_by & kByTask) ++async_stats_.released;
  for (Span& span : node.mapped().spans) ready->push_back(std::move(span));
}

void HandoffLinker::ReleaseOldestWhileOverfull(std::vector<Span>* ready) {
  while (held_spans_ > options_.max_held_spans && !undecided_order_.empty()) {
    TraceId oldest = undecided_order_.front().second;
    undecided_order_.pop_front();
    auto it = undecided_.find(oldest);
    if (it == undecided_.end()) continue;
    if (it->second.held_by & kByThread) ++stats_.held_overflows;
    if (it->second.held_by & kByTask) ++async_stats_.held_overflows;
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
  while (!answered_order_.empty() && answered_order_.front().first + options_.hold_ns <= now_ns_) {
    answered_tasks_.erase(answered_order_.front().second);
    answered_order_.pop_front();
  }
  // Worker and task queues only hold ids; drop the ones whose trace is gone.
  DropDecidedHeads(by_worker_);
  DropDecidedHeads(by_task_);
}

template <typename Key>
void HandoffLinker::DropDecidedHeads(absl::flat_hash_map<Key, std::deque<TraceId>>& queues) {
  for (auto it = queues.begin(); it != queues.end();) {
    auto& calls = it->second;
    while (!calls.empty() && !undecided_.contains(calls.front())) calls.pop_front();
    if (calls.empty()) {
      queues.erase(it++);
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
  by_task_.clear();
  answered_tasks_.clear();
  answered_order_.clear();
}

}  // namespace weft
