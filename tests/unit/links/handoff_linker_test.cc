#include "agent/links/handoff_linker.h"

#include <string>
#include <vector>

#include "gtest/gtest.h"
#include "tests/unit/links/link_test_spans.h"

namespace weft {
namespace {

constexpr uint32_t kPool = 100;
constexpr uint32_t kReactor = 101;
constexpr uint32_t kWorker = 102;
constexpr uint32_t kOtherWorker = 103;
constexpr uint32_t kBackend = 200;

using testing::FindSpan;

TraceId Trace(uint8_t n) { return testing::MakeTraceId(n, 1); }
SpanId Id(uint8_t n) { return testing::MakeSpanId(n, 1); }

Span MakeSpan(SpanKind kind, TraceId trace, SpanId id, SpanId parent = {}) {
  return testing::SpanWithSource(kind, trace, id, "none", parent);
}

SpanFacts Facts(uint32_t tgid, uint32_t request_tid, uint32_t response_tid, uint64_t start,
                uint64_t response_start, uint64_t end, bool orphan_client = false) {
  SpanFacts f;
  f.tgid = tgid;
  f.request_tid = request_tid;
  f.response_tid = response_tid;
  f.request_start_ns = start;
  f.response_start_ns = response_start;
  f.end_ns = end;
  f.orphan_client = orphan_client;
  return f;
}

std::string LinkSource(const Span& s) { return testing::LinkSourceOf(s); }
const Span* Find(const std::vector<Span>& spans, SpanId id) { return FindSpan(spans, id); }

// A process is treated as a pool once it answers a request on another thread
// than the reader; before that, nothing of it is held.
void SeenAnsweringOnAnotherThread(HandoffLinker& linker, uint32_t tgid) {
  std::vector<Span> discard;
  linker.Add(MakeSpan(SpanKind::kServer, Trace(99), Id(99)),
             Facts(tgid, kReactor, kOtherWorker, 10, 20, 21), &discard);
}

class HandoffLinkerTest : public ::testing::Test {
 protected:
  void SetUp() override { SeenAnsweringOnAnotherThread(linker, kPool); }

  // A worker's call (trace 2, sent at `call_start`) and the backend's SERVER
  // span it caused, both built before any answer.
  void WorkerCalls(uint8_t n, uint32_t worker, uint64_t call_start, uint64_t call_end) {
    linker.OnOrphanRequestStart(Trace(n), kPool, worker, call_start);
    linker.Add(MakeSpan(SpanKind::kServer, Trace(n), Id(n + 100), Id(n)),
               Facts(kBackend, 7, 7, call_start + 1, call_end - 2, call_end - 1), &ready);
    linker.Add(MakeSpan(SpanKind::kClient, Trace(n), Id(n)),
               Facts(kPool, worker, worker, call_start, call_end - 1, call_end, true), &ready);
  }
  // The pool answers request (trace 1, span 1) read by the reactor.
  void WorkerAnswers(uint32_t worker, uint64_t read_at, uint64_t answer_at) {
    linker.Add(MakeSpan(SpanKind::kServer, Trace(1), Id(1)),
               Facts(kPool, kReactor, worker, read_at, answer_at, answer_at + 1), &ready);
  }

  HandoffLinker linker{HandoffOptions{}};
  std::vector<Span> ready;
};

TEST_F(HandoffLinkerTest, CallInsideTheAnsweredRequestMovesWithItsWholeTrace) {
  WorkerCalls(2, kWorker, 1000, 2000);
  EXPECT_TRUE(ready.empty()) << "the call and its callee wait for the answer";
  EXPECT_EQ(linker.held_spans(), 2u);
  WorkerAnswers(kWorker, 500, 3000);
  ASSERT_EQ(ready.size(), 3u);
  const Span* call = Find(ready, Id(2));
  ASSERT_NE(call, nullptr);
  EXPECT_EQ(call->trace_id, Trace(1));
  EXPECT_EQ(call->parent_span_id, Id(1));
  EXPECT_EQ(LinkSource(*call), "handoff");
  const Span* callee = Find(ready, Id(102));
  ASSERT_NE(callee, nullptr);
  EXPECT_EQ(callee->trace_id, Trace(1));
  EXPECT_EQ(callee->parent_span_id, Id(2)) << "the callee keeps its parent";
  EXPECT_EQ(linker.stats().linked, 1u);
  EXPECT_EQ(linker.held_spans(), 0u);
}

TEST_F(HandoffLinkerTest, CallSentBeforeTheRequestWasReadIsReleasedUnlinked) {
  WorkerCalls(2, kWorker, 1000, 2000);
  WorkerAnswers(kWorker, 1500, 3000);
  const Span* call = Find(ready, Id(2));
  ASSERT_NE(call, nullptr);
  EXPECT_EQ(call->trace_id, Trace(2));
  EXPECT_TRUE(call->IsRoot());
  EXPECT_EQ(LinkSource(*call), "none");
  EXPECT_EQ(linker.stats().released, 1u);
}

TEST_F(HandoffLinkerTest, AnswerByAnotherThreadOrTheReaderDecidesNothing) {
  WorkerCalls(2, kWorker, 1000, 2000);
  WorkerAnswers(kOtherWorker, 500, 3000);
  linker.Add(MakeSpan(SpanKind::kServer, Trace(3), Id(3)),
             Facts(kPool, kWorker, kWorker, 500, 3000, 3001), &ready);
  EXPECT_EQ(Find(ready, Id(2)), nullptr);
  EXPECT_EQ(linker.stats().linked, 0u);
}

TEST_F(HandoffLinkerTest, CallStillOpenAtTheAnswerIsNotLinked) {
  WorkerCalls(2, kWorker, 1000, 4000);
  WorkerAnswers(kWorker, 500, 3000);
  EXPECT_EQ(Find(ready, Id(2)), nullptr);
  EXPECT_EQ(linker.stats().linked, 0u);
}

TEST_F(HandoffLinkerTest, UndecidedTracesAreExportedUnchangedWhenTheHoldExpires) {
  WorkerCalls(2, kWorker, 1000, 2000);
  linker.Expire(1000 + HandoffOptions{}.hold_ns - 1, &ready);
  EXPECT_TRUE(ready.empty());
  linker.Expire(1000 + HandoffOptions{}.hold_ns, &ready);
  EXPECT_EQ(ready.size(), 2u);
  EXPECT_EQ(linker.stats().released, 1u);
}

TEST_F(HandoffLinkerTest, FlushReleasesEverything) {
  WorkerCalls(2, kWorker, 1000, 2000);
  WorkerCalls(3, kOtherWorker, 1000, 2000);
  linker.Flush(&ready);
  EXPECT_EQ(ready.size(), 4u);
  EXPECT_EQ(linker.held_spans(), 0u);
}

TEST_F(HandoffLinkerTest, SpansOfAMovedTraceThatArriveLateFollowIt) {
  WorkerCalls(2, kWorker, 1000, 2000);
  WorkerAnswers(kWorker, 500, 3000);
  linker.Add(MakeSpan(SpanKind::kClient, Trace(2), Id(50), Id(102)),
             Facts(kBackend, 7, 7, 1100, 1200, 1300), &ready);
  EXPECT_EQ(Find(ready, Id(50))->trace_id, Trace(1));
}

TEST_F(HandoffLinkerTest, PoolCallingPoolJoinsTheCallersUndecidedTrace) {
  // The answered request (trace 1) was itself caused by an orphan call.
  SeenAnsweringOnAnotherThread(linker, 300);
  linker.OnOrphanRequestStart(Trace(1), 300, 301, 100);
  WorkerCalls(2, kWorker, 1000, 2000);
  WorkerAnswers(kWorker, 500, 3000);
  EXPECT_TRUE(ready.empty()) << "still waiting for trace 1's decision";
  EXPECT_EQ(linker.held_spans(), 3u);
  linker.Flush(&ready);
  ASSERT_EQ(ready.size(), 3u);
  for (const auto& s : ready) EXPECT_EQ(s.trace_id, Trace(1));
}

TEST_F(HandoffLinkerTest, TooManyHeldSpansReleasesTheOldestTraces) {
  HandoffOptions small;
  small.max_held_spans = 3;
  HandoffLinker bounded(small);
  SeenAnsweringOnAnotherThread(bounded, kPool);
  for (uint8_t n = 2; n < 5; ++n) {
    bounded.OnOrphanRequestStart(Trace(n), kPool, kWorker, 1000 + n);
    bounded.Add(MakeSpan(SpanKind::kClient, Trace(n), Id(n)),
                Facts(kPool, kWorker, kWorker, 1000 + n, 1500, 2000, true), &ready);
    bounded.Add(MakeSpan(SpanKind::kServer, Trace(n), Id(n + 100), Id(n)),
                Facts(kBackend, 7, 7, 1100, 1200, 1300), &ready);
  }
  EXPECT_LE(bounded.held_spans(), 3u);
  EXPECT_EQ(ready.size() + bounded.held_spans(), 6u) << "nothing lost";
  EXPECT_GE(bounded.stats().held_overflows, 1u);
}

TEST_F(HandoffLinkerTest, CallsOfAProcessNeverSeenAsAPoolAreNotHeld) {
  HandoffLinker fresh{HandoffOptions{}};
  fresh.OnOrphanRequestStart(Trace(2), kPool, kWorker, 1000);
  fresh.Add(MakeSpan(SpanKind::kClient, Trace(2), Id(2)),
            Facts(kPool, kWorker, kWorker, 1000, 1500, 2000, true), &ready);
  EXPECT_EQ(ready.size(), 1u);
  EXPECT_EQ(fresh.held_spans(), 0u);
  EXPECT_EQ(fresh.stats().orphan_calls, 0u);
}

TEST_F(HandoffLinkerTest, DisabledPassesSpansThrough) {
  HandoffOptions off;
  off.enabled = false;
  HandoffLinker disabled(off);
  SeenAnsweringOnAnotherThread(disabled, kPool);
  ready.clear();
  disabled.OnOrphanRequestStart(Trace(2), kPool, kWorker, 1000);
  disabled.Add(MakeSpan(SpanKind::kClient, Trace(2), Id(2)),
               Facts(kPool, kWorker, kWorker, 1000, 1500, 2000, true), &ready);
  EXPECT_EQ(ready.size(), 1u);
}

}  // namespace
}  // namespace weft
