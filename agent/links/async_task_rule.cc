// The async-task rule of HandoffLinker (handoff_linker.h): asyncio calls held
// under their context generations, decided by the request their task answers.
#include <utility>

#include "agent/links/handoff_linker.h"

namespace weft {

void HandoffLinker::OnServerRequestStart(uint32_t tgid) {
  if (options_.enabled && options_.async_tasks) serving_processes_.insert(tgid);
}

void HandoffLinker::OnProcessExit(uint32_t tgid) { serving_processes_.erase(tgid); }

void HandoffLinker::OnAsyncRequestStart(const TraceId& trace, uint32_t tgid,
                                        std::span<const uint64_t> lineage, uint64_t now_ns) {
  if (!options_.enabled || !options_.async_tasks || lineage.empty() ||
      !serving_processes_.contains(tgid)) {
    return;
  }
  if (!Hold(trace, kByTask, now_ns)) return;
  undecided_[trace].task_lineage.assign(lineage.begin(), lineage.end());
  for (uint64_t generation : lineage) by_task_[generation].push_back(trace);
  ++async_stats_.calls;
}

void HandoffLinker::OnTaskAnswer(const Span& server, const SpanFacts& facts,
                                 std::vector<Span>* ready) {
  // Only a context created after the request was read can be the request's
  // own task; an older one (the connection's, the loop's) may serve several.
  if (facts.response_task_created_ns <= facts.request_start_ns) {
    ++async_stats_.answers_from_older_context;
    ReleaseCallsOfOlderContext(facts, ready);
    return;
  }
  auto node = by_task_.extract(facts.response_task);
  if (node.empty()) return;
  TaskAnswer answer;
  answer.request.trace_id = server.trace_id;
  answer.request.span_id = server.span_id;
  answer.request.trace_flags = server.trace_flags;
  answer.request.trace_state = server.trace_state;
  answer.request_start_ns = facts.request_start_ns;
  answer.response_start_ns = facts.response_start_ns;
  std::deque<TraceId> open;
  for (const TraceId& trace : node.mapped()) {
    if (!DecideTaskCall(trace, facts.response_task, answer, ready)) open.push_back(trace);
  }
  if (open.empty()) return;
  by_task_[facts.response_task] = std::move(open);
  answered_tasks_[facts.response_task] = std::move(answer);
  answered_order_.emplace_back(now_ns_, facts.response_task);
}

bool HandoffLinker::DecideTaskCall(const TraceId& trace, uint64_t answering_generation,
                                   const TaskAnswer& answer, std::vector<Span>* ready) {
  auto it = undecided_.find(trace);
  if (it == undecided_.end()) return true;  // decided already
  const Undecided& u = it->second;
  if (!u.call_built) return false;
  if (u.call_start_ns >= answer.request_start_ns && u.call_end_ns <= answer.response_start_ns) {
    // The request's trace may have moved meanwhile (it was itself a held call).
    Span request = answer.request;
    if (auto moved = moved_.find(request.trace_id); moved != moved_.end()) {
      request.trace_id = moved->second;
    }
    Link(trace, request, kByTask, ready);
    return true;
  }
  // Outside the lifetime of a request an *ancestor* of the call's context
  // answered: that proves nothing. The lineage may reach that ancestor
  // through a stale generation (HandoffOptions::max_task_ancestors), so the
  // call may be a later request's, whose own task, nearer in the lineage,
  // has not answered yet: keep holding it (the hold bounds the wait).
  if (u.task_lineage.front() != answering_generation) return true;
  // Sent by this request's own task but outside the request's lifetime:
  // before it was read (reordered events), or still open when the answer
  // started (work that outlives the request). No other request's task made
  // it, so waiting longer proves nothing.
  if (u.held_by == kByTask) Release(trace, ready);
  return true;
}

void HandoffLinker::ReleaseCallsOfOlderContext(const SpanFacts& facts, std::vector<Span>* ready) {
  auto queue = by_task_.find(facts.response_task);
  if (queue == by_task_.end()) return;
  // The context that answered will never be a later request's own task
  // either, so the calls it sent itself while this request was open can
  // only ever be exported unlinked: no need to wait for the hold. Calls of
  // tasks it created keep waiting (one of them may answer another request).
  std::deque<TraceId> kept;
  for (const TraceId& trace : queue->second) {
    auto it = undecided_.find(trace);
    if (it == undecided_.end()) continue;
    const Undecided& u = it->second;
    if (u.call_built && u.held_by == kByTask && u.task_lineage.front() == facts.response_task &&
        u.call_start_ns >= facts.request_start_ns && u.call_end_ns <= facts.response_start_ns) {
      Release(trace, ready);
    } else {
      kept.push_back(trace);
    }
  }
  if (kept.empty()) {
    by_task_.erase(queue);
  } else {
    queue->second = std::move(kept);
  }
}

void HandoffLinker::DecideLateTaskCall(const TraceId& trace, std::vector<Span>* ready) {
  if (answered_tasks_.empty()) return;
  auto it = undecided_.find(trace);
  if (it == undecided_.end()) return;
  // The nearest generation that answered decides (the call's own task first).
  for (uint64_t generation : it->second.task_lineage) {
    auto answer = answered_tasks_.find(generation);
    if (answer == answered_tasks_.end()) continue;
    DecideTaskCall(trace, generation, answer->second, ready);
    return;
  }
}

}  // namespace weft
