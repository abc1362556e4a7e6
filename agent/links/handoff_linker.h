// Thread-pool handoff links, decided after the fact in userspace.
//
// In a reactor + worker pool server (Tomcat NIO, Jetty, a Python
// concurrent.futures pool) one thread reads the request and a pool thread
// makes the downstream calls and writes the answer. When the pool thread
// sends a call, the kernel sees no context on it (the reading thread had it),
// so the CLIENT span starts a new trace. The evidence arrives later: the same
// pool thread writes the answer of a SERVER request that was read by another
// thread, and the call lies inside that request's lifetime. The linker holds
// such orphan calls (and every span of the traces they started, e.g. the
// callee's SERVER span) until that evidence arrives or they time out, then
// re-parents the call under the answered request and moves its whole trace.
//
// The rule assumes a pool thread answers the request it works on, one at a
// time (every pool server measured does; docs/parent-links.md says when it
// would be wrong). Spans are delayed, never dropped: what is not linked
// within `hold_ns` is exported as it was.
//
// The same hold decides asyncio calls ("async-task"): a call sent from an
// asyncio context (a generation, async_contexts.h) is held under that context
// and its ancestors; when a SERVER request's response is written from a
// context created after the request was read, that context is the request's
// own task, and the calls held under it that lie inside the request's
// lifetime move under the request. A context older than the request (the
// connection's or the loop's) may serve several requests: it decides nothing.
#pragma once

#include <cstdint>
#include <deque>
#include <span>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/container/flat_hash_set.h"
#include "agent/model/span.h"

namespace weft {

struct HandoffOptions {
  bool enabled = true;
  // How long an orphan call waits for its thread to answer a request.
  uint64_t hold_ns = 10'000'000'000;
  // Spans held at most (the oldest traces are released first beyond this).
  size_t max_held_spans = 65536;
  // Link asyncio calls to the request whose task (or a task it created) sent them.
  bool async_tasks = true;
  // Ancestors of a call's context it is held under: 2 reaches a request's
  // own task from a child task of a child task (asyncio.gather in a gather).
  // Deeper lineages are not trusted: a context copied where weft cannot see
  // (asyncio's call_soon copies one in Python) may reuse a freed Context's
  // address, and a task created in it then descends, for weft, from that
  // address's old generation. With a new connection per request this joins
  // a request's tasks, through its connection's task and that stale
  // generation, to an earlier request's, whose answer would then place
  // (or release) the later request's calls.
  int max_task_ancestors = 2;
};

// What the linker needs to know about a span beyond the span itself
// (monotonic nanoseconds, threads from the kernel's events).
struct SpanFacts {
  uint32_t tgid = 0;
  uint32_t request_tid = 0;   // thread that moved the request's first byte
  uint32_t response_tid = 0;  // thread that moved the response's first byte (0: none)
  uint64_t request_start_ns = 0;
  uint64_t response_start_ns = 0;  // 0: no response
  uint64_t end_ns = 0;
  bool orphan_client = false;  // CLIENT span the kernel gave no parent (none / ambiguous)
  // Asyncio context generation that sent the response's first byte (0: unknown),
  // and when weft saw it created (0: it did not).
  uint64_t response_task = 0;
  uint64_t response_task_created_ns = 0;
};

struct HandoffStats {
  uint64_t orphan_calls = 0;    // orphan CLIENT requests seen
  uint64_t linked = 0;          // of those, linked to the request their thread answered
  uint64_t released = 0;        // of those, exported unlinked (no evidence, timeout, overflow)
  uint64_t spans_delayed = 0;   // spans held while their trace was undecided
  uint64_t held_overflows = 0;  // traces released early because too many spans were held
};

struct AsyncTaskStats {
  uint64_t calls = 0;           // asyncio calls with no kernel parent held under their contexts
  uint64_t linked = 0;          // of those, linked to the request whose task sent them
  uint64_t released = 0;        // of those, exported unlinked (no evidence, timeout, overflow)
  uint64_t spans_delayed = 0;   // spans held while their trace was undecided
  uint64_t held_overflows = 0;  // traces released early because too many spans were held
  // Responses sent from a context created before their request was read (or
  // never seen created): proof of nothing, so nothing was linked by them.
  uint64_t answers_from_older_context = 0;
};

class HandoffLinker {
 public:
  explicit HandoffLinker(HandoffOptions options) : options_(options) {}

  // The first byte of a CLIENT request whose thread had no context: in a
  // process seen answering requests on another thread than the reader (a
  // pool), its trace stays undecided until the thread answers a request or
  // the hold expires. Elsewhere (a plain client) nothing is held.
  void OnOrphanRequestStart(const TraceId& trace, uint32_t tgid, uint32_t tid, uint64_t now_ns);
  // A process read the first byte of a request: it serves, so its asyncio
  // calls may be made for one. Calls of a process that never did (a client
  // script) are not held: no answer could ever decide them.
  void OnServerRequestStart(uint32_t tgid);
  void OnProcessExit(uint32_t tgid);
  // The first byte of a CLIENT request the kernel gave no parent, sent from
  // an asyncio context: `lineage` is its generation and its tracked
  // ancestors (AsyncContextRegistry::TrackedLineage). Held until a request
  // answered from one of them decides it, or the hold expires.
  void OnAsyncRequestStart(const TraceId& trace, uint32_t tgid, std::span<const uint64_t> lineage,
                           uint64_t now_ns);

  // Takes a built span; appends to `ready` whatever may be exported now.
  void Add(Span span, const SpanFacts& facts, std::vector<Span>* ready);
  // Releases traces whose hold expired.
  void Expire(uint64_t now_ns, std::vector<Span>* ready);
  // Releases everything (shutdown).
  void Flush(std::vector<Span>* ready);

  const HandoffStats& stats() const { return stats_; }
  const AsyncTaskStats& async_stats() const { return async_stats_; }
  size_t held_spans() const { return held_spans_; }

 private:
  // Which rules hold a trace (both may: a pool thread running asyncio code).
  enum HeldBy : uint8_t { kByThread = 1, kByTask = 2 };
  struct Undecided {
    uint64_t registered_ns = 0;
    uint8_t held_by = 0;
    bool call_built = false;  // the orphan CLIENT span itself has arrived
    SpanId call_span_id{};
    uint64_t call_start_ns = 0;
    uint64_t call_end_ns = 0;
    std::vector<uint64_t> task_lineage;  // generations it is held under (async-task)
    std::vector<Span> spans;
  };
  // A request answered by its own task, kept while calls of that task are
  // still open (their spans are built after the answer's).
  struct TaskAnswer {
    Span request;  // ids, flags and trace state of the SERVER span only
    uint64_t request_start_ns = 0;
    uint64_t response_start_ns = 0;
  };
  struct WorkerKey {
    uint32_t tgid;
    uint32_t tid;
    bool operator==(const WorkerKey&) const = default;
    template <typename H>
    friend H AbslHashValue(H h, const WorkerKey& k) {
      return H::combine(std::move(h), k.tgid, k.tid);
    }
  };

  // Starts holding `trace` for `rule`; false when that rule holds it already.
  bool Hold(const TraceId& trace, HeldBy rule, uint64_t now_ns);
  void OnAnswer(const Span& server, const SpanFacts& facts, std::vector<Span>* ready);
  void OnTaskAnswer(const Span& server, const SpanFacts& facts, std::vector<Span>* ready);
  // Links or releases a held asyncio call after `answering_generation`
  // answered (or leaves it held for a nearer generation of its lineage);
  // false while its span is not built.
  bool DecideTaskCall(const TraceId& trace, uint64_t answering_generation, const TaskAnswer& answer,
                      std::vector<Span>* ready);
  void DecideLateTaskCall(const TraceId& trace, std::vector<Span>* ready);
  void ReleaseCallsOfOlderContext(const SpanFacts& facts, std::vector<Span>* ready);
  void Link(const TraceId& call_trace, const Span& server, HeldBy rule, std::vector<Span>* ready);
  void Release(const TraceId& trace, std::vector<Span>* ready);
  void ReleaseOldestWhileOverfull(std::vector<Span>* ready);
  template <typename Key>
  void DropDecidedHeads(absl::flat_hash_map<Key, std::deque<TraceId>>& queues);

  HandoffOptions options_;
  // Processes seen answering a request on another thread than its reader.
  absl::flat_hash_set<uint32_t> pool_processes_;
  // Processes seen reading a request (asyncio calls are held only there).
  absl::flat_hash_set<uint32_t> serving_processes_;
  absl::flat_hash_map<TraceId, Undecided> undecided_;
  // Undecided traces per pool thread, oldest first.
  absl::flat_hash_map<WorkerKey, std::deque<TraceId>> by_worker_;
  // Undecided asyncio calls per context generation (ids are unique across
  // processes), oldest first; a call is listed under its ancestors too.
  absl::flat_hash_map<uint64_t, std::deque<TraceId>> by_task_;
  // Generations that answered their request with calls still open, and when.
  absl::flat_hash_map<uint64_t, TaskAnswer> answered_tasks_;
  std::deque<std::pair<uint64_t, uint64_t>> answered_order_;
  // Traces already moved into another: spans of theirs that arrive late
  // follow (expire after hold_ns).
  absl::flat_hash_map<TraceId, TraceId> moved_;
  std::deque<std::pair<uint64_t, TraceId>> moved_order_;
  // Registration order, for expiry and overflow (entries may be stale).
  std::deque<std::pair<uint64_t, TraceId>> undecided_order_;
  uint64_t now_ns_ = 0;
  size_t held_spans_ = 0;
  HandoffStats stats_;
  AsyncTaskStats async_stats_;
};

}  // namespace weft
