// asyncio calls linked to the request whose task sent them: the registry turns
// context addresses into generations, the linker holds calls under them.
#include <string>
#include <vector>

#include "agent/links/async_contexts.h"
#include "agent/links/handoff_linker.h"
#include "gtest/gtest.h"
#include "tests/unit/links/link_test_spans.h"

namespace weft {
namespace {

constexpr uint32_t kLoop = 300;  // one asyncio process, one thread
constexpr uint32_t kBackend = 200;
// Context addresses.
constexpr uint64_t kMain = 0x1000;   // the loop's own context, never seen created
constexpr uint64_t kConn = 0x2000;   // a connection handler task
constexpr uint64_t kConn2 = 0x2100;  // another connection's handler task
constexpr uint64_t kTask = 0x3000;   // a request task
constexpr uint64_t kTask2 = 0x3100;  // another request task
constexpr uint64_t kChild = 0x4000;  // a task created by a request task (asyncio.gather)

using testing::LinkSourceOf;

TraceId Trace(uint8_t n) { return testing::MakeTraceId(n, 2); }
SpanId Id(uint8_t n) { return testing::MakeSpanId(n, 2); }

Span MakeSpan(SpanKind kind, TraceId trace, SpanId id, std::string link_source,
              SpanId parent = {}) {
  return testing::SpanWithSource(kind, trace, id, std::move(link_source), parent);
}

const Span* Find(const std::vector<Span>& spans, SpanId id) { return testing::FindSpan(spans, id); }

// Drives the registry and the linker the way SpanPipeline does.
class AsyncTaskLinkerTest : public ::testing::Test {
 protected:
  void Copy(uint64_t parent, uint64_t child, uint64_t at) {
    registry.OnCopy(AsyncContextEvent{at, kLoop, kLoop, parent, child});
  }

  // A call (trace n, span n) sent from `address` at `start`, its answer fully
  // read at `end`, and the callee's SERVER span (span n + 100) built first.
  void Call(uint8_t n, uint64_t address, uint64_t start, uint64_t end,
            std::string kernel_link = "ambiguous") {
    std::vector<uint64_t> lineage;
    registry.TrackedLineage(registry.Current(kLoop, address), HandoffOptions{}.max_task_ancestors,
                            &lineage);
    linker.OnAsyncRequestStart(Trace(n), kLoop, lineage, start);
    SpanFacts callee;
    callee.tgid = kBackend;
    callee.request_start_ns = start + 1;
    callee.response_start_ns = end - 2;
    callee.end_ns = end - 1;
    linker.Add(MakeSpan(SpanKind::kServer, Trace(n), Id(n + 100), "peer-socket", Id(n)), callee,
               &ready);
    SpanFacts call;
    call.tgid = kLoop;
    call.request_tid = call.response_tid = kLoop;
    call.request_start_ns = start;
    call.response_start_ns = end - 1;
    call.end_ns = end;
    call.orphan_client = true;
    linker.Add(MakeSpan(SpanKind::kClient, Trace(n), Id(n), kernel_link), call, &ready);
  }

  // The SERVER request (trace n, span n) read at `read_at` and answered from
  // `address` at `answer_at`.
  void Answer(uint8_t n, uint64_t address, uint64_t read_at, uint64_t answer_at) {
    SpanFacts f;
    f.tgid = kLoop;
    f.request_tid = f.response_tid = kLoop;
    f.request_start_ns = read_at;
    f.response_start_ns = answer_at;
    f.end_ns = answer_at + 1;
    f.response_task = registry.Current(kLoop, address);
    const auto* task = registry.Find(f.response_task);
    if (task != nullptr && task->tracked) f.response_task_created_ns = task->created_ns;
    linker.Add(MakeSpan(SpanKind::kServer, Trace(n), Id(n), "none"), f, &ready);
  }

  void ExpectLinked(uint8_t call, uint8_t request) {
    const Span* span = Find(ready, Id(call));
    ASSERT_NE(span, nullptr) << "call " << int(call) << " not exported";
    EXPECT_EQ(span->trace_id, Trace(request));
    EXPECT_EQ(span->parent_span_id, Id(request));
    EXPECT_EQ(LinkSourceOf(*span), "async-task");
    const Span* callee = Find(ready, Id(call + 100));
    ASSERT_NE(callee, nullptr);
    EXPECT_EQ(callee->trace_id, Trace(request)) << "the callee moves with its caller";
    EXPECT_EQ(callee->parent_span_id, Id(call));
  }
  void ExpectUnlinked(uint8_t call) {
    const Span* span = Find(ready, Id(call));
    ASSERT_NE(span, nullptr) << "call " << int(call) << " not exported";
    EXPECT_EQ(span->trace_id, Trace(call));
    EXPECT_TRUE(span->IsRoot());
    EXPECT_NE(LinkSourceOf(*span), "async-task");
  }

  void SetUp() override { linker.OnServerRequestStart(kLoop); }

  AsyncContextRegistry registry;
  HandoffLinker linker{HandoffOptions{}};
  std::vector<Span> ready;
};

TEST_F(AsyncTaskLinkerTest, CallInTheRequestsOwnTaskLinks) {
  Copy(kMain, kConn, 100);
  // Request 1 read at 1000; its task created at 1100 sends a call and answers.
  Copy(kConn, kTask, 1100);
  Call(2, kTask, 1200, 1800);
  EXPECT_TRUE(ready.empty()) << "the call and its callee wait for the answer";
  Answer(1, kTask, 1000, 2000);
  ExpectLinked(2, 1);
  EXPECT_EQ(ready.size(), 3u);
  EXPECT_EQ(linker.async_stats().calls, 1u);
  EXPECT_EQ(linker.async_stats().linked, 1u);
  EXPECT_EQ(linker.held_spans(), 0u);
  EXPECT_EQ(linker.stats().orphan_calls, 0u) << "the thread rule is not involved";
}

TEST_F(AsyncTaskLinkerTest, KernelLinkSourceNoneIsHeldToo) {
  Copy(kConn, kTask, 1100);
  Call(2, kTask, 1200, 1800, "none");
  Answer(1, kTask, 1000, 2000);
  ExpectLinked(2, 1);
}

TEST_F(AsyncTaskLinkerTest, CallInAChildTaskLinksThroughAncestry) {
  Copy(kMain, kConn, 100);
  Copy(kConn, kTask, 1100);
  Copy(kTask, kChild, 1150);  // asyncio.gather wraps each call in a task
  Call(2, kChild, 1200, 1800);
  Copy(kChild, kChild + 1, 1210);  // a grandchild
  Call(3, kChild + 1, 1300, 1900);
  Answer(1, kTask, 1000, 2000);
  ExpectLinked(2, 1);
  ExpectLinked(3, 1);
  EXPECT_EQ(linker.async_stats().linked, 2u);
}

TEST_F(AsyncTaskLinkerTest, AnswerFromAContextCreatedBeforeTheRequestLinksNothing) {
  Copy(kMain, kConn, 100);
  // The connection task itself answers and calls (a server without a task
  // per request): it existed before the request, so it proves nothing.
  Call(2, kConn, 1200, 1800);
  Copy(kConn, kChild, 1250);  // a task it created for this request
  Call(3, kChild, 1300, 1700);
  Call(4, kConn, 1900, 2500);  // still open at the answer
  Answer(1, kConn, 1000, 2000);
  EXPECT_EQ(linker.async_stats().linked, 0u);
  EXPECT_EQ(linker.async_stats().answers_from_older_context, 1u);
  // Its own call inside the request can never be linked: exported at once.
  ExpectUnlinked(2);
  EXPECT_EQ(LinkSourceOf(*Find(ready, Id(2))), "ambiguous");
  EXPECT_EQ(Find(ready, Id(3)), nullptr) << "a child task's call waits";
  EXPECT_EQ(Find(ready, Id(4)), nullptr) << "a call outside the request waits";
  linker.Expire(1900 + HandoffOptions{}.hold_ns, &ready);
  ExpectUnlinked(3);
  ExpectUnlinked(4);
  EXPECT_EQ(linker.async_stats().released, 3u);
}

TEST_F(AsyncTaskLinkerTest, ContextCreatedAtTheSameInstantAsTheRequestIsNotItsTask) {
  Copy(kConn, kTask, 1000);
  Call(2, kTask, 1200, 1800);
  Answer(1, kTask, 1000, 2000);
  ExpectUnlinked(2);
  EXPECT_EQ(linker.async_stats().answers_from_older_context, 1u);
}

TEST_F(AsyncTaskLinkerTest, CallsOfAProcessThatNeverReadARequestAreNotHeld) {
  HandoffLinker fresh{HandoffOptions{}};
  Copy(kConn, kTask, 1100);
  std::vector<uint64_t> lineage;
  registry.TrackedLineage(registry.Current(kLoop, kTask), 8, &lineage);
  fresh.OnAsyncRequestStart(Trace(2), kLoop, lineage, 1200);
  SpanFacts call;
  call.orphan_client = true;
  fresh.Add(MakeSpan(SpanKind::kClient, Trace(2), Id(2), "ambiguous"), call, &ready);
  EXPECT_EQ(ready.size(), 1u) << "a client script's calls are exported at once";
  EXPECT_EQ(fresh.async_stats().calls, 0u);
  fresh.OnServerRequestStart(kLoop);
  fresh.OnProcessExit(kLoop);
  fresh.OnAsyncRequestStart(Trace(3), kLoop, lineage, 1300);
  EXPECT_EQ(fresh.async_stats().calls, 0u) << "an exited process is forgotten";
}

TEST_F(AsyncTaskLinkerTest, CallsFromAContextNeverSeenCreatedAreNotHeld) {
  Call(2, kMain, 1200, 1800);
  EXPECT_EQ(ready.size(), 2u) << "nothing could ever link them: exported at once";
  EXPECT_EQ(linker.async_stats().calls, 0u);
  Answer(1, kMain, 1000, 2000);
  EXPECT_EQ(linker.async_stats().answers_from_older_context, 1u);
}

TEST_F(AsyncTaskLinkerTest, ANewGenerationOfAnAddressDoesNotInheritTheOldOnesCalls) {
  Copy(kConn, kTask, 1100);  // request 1's task
  Call(2, kTask, 1200, 1800);
  // Request 1's task is freed before weft sees its answer (say it is lost);
  // CPython reuses the address for request 5's task.
  Copy(kConn, kTask, 2600);
  Call(6, kTask, 2700, 2800);
  Answer(5, kTask, 2500, 3000);
  ExpectLinked(6, 5);
  EXPECT_EQ(Find(ready, Id(2)), nullptr) << "the old generation's call is not request 5's";
  linker.Expire(1200 + HandoffOptions{}.hold_ns, &ready);
  ExpectUnlinked(2);
}

TEST_F(AsyncTaskLinkerTest, TwoInterleavedRequestsOnOneLoopEachGetTheirOwnCalls) {
  Copy(kMain, kConn, 100);
  Copy(kMain, kConn2, 110);
  // Request 1 read at 1000 (connection 1), request 5 at 1050 (connection 2).
  Copy(kConn, kTask, 1100);
  Copy(kConn2, kTask2, 1120);
  Call(2, kTask, 1200, 1500);
  Call(3, kTask2, 1250, 1600);
  Call(4, kTask, 1550, 1700);
  Answer(5, kTask2, 1050, 1800);
  ExpectLinked(3, 5);
  EXPECT_EQ(Find(ready, Id(2)), nullptr);
  EXPECT_EQ(Find(ready, Id(4)), nullptr);
  Answer(1, kTask, 1000, 1900);
  ExpectLinked(2, 1);
  ExpectLinked(4, 1);
  EXPECT_EQ(linker.async_stats().linked, 3u);
  EXPECT_EQ(linker.held_spans(), 0u);
}

TEST_F(AsyncTaskLinkerTest, CallOutsideTheRequestsLifetimeIsReleasedAtTheAnswer) {
  Copy(kConn, kTask, 1100);
  Call(2, kTask, 1200, 2500);  // still open when the answer starts (fire and forget)
  Answer(1, kTask, 1000, 2000);
  ExpectUnlinked(2);
  EXPECT_EQ(linker.async_stats().released, 1u);
  EXPECT_EQ(linker.held_spans(), 0u);
}

// The kernel may report the callee's answer (another process, another CPU)
// after the caller already answered its own request: the call's span is then
// built after the answer, and is decided when it arrives.
TEST_F(AsyncTaskLinkerTest, CallBuiltAfterTheAnswerIsDecidedWhenItArrives) {
  Copy(kConn, kTask, 1100);
  Copy(kTask, kChild, 1110);
  std::vector<uint64_t> lineage;
  registry.TrackedLineage(registry.Current(kLoop, kChild), 8, &lineage);
  linker.OnAsyncRequestStart(Trace(2), kLoop, lineage, 1200);
  Answer(1, kTask, 1000, 2000);
  EXPECT_EQ(Find(ready, Id(2)), nullptr);
  EXPECT_EQ(linker.async_stats().released, 0u) << "not released while its span is missing";
  SpanFacts callee;
  callee.tgid = kBackend;
  linker.Add(MakeSpan(SpanKind::kServer, Trace(2), Id(102), "peer-socket", Id(2)), callee, &ready);
  SpanFacts call;
  call.tgid = kLoop;
  call.request_start_ns = 1200;
  call.end_ns = 1800;
  call.orphan_client = true;
  linker.Add(MakeSpan(SpanKind::kClient, Trace(2), Id(2), "ambiguous"), call, &ready);
  ExpectLinked(2, 1);
  EXPECT_EQ(linker.held_spans(), 0u);
}

TEST_F(AsyncTaskLinkerTest, CallBuiltAfterTheAnswerThatOutlivedTheRequestIsReleased) {
  Copy(kConn, kTask, 1100);
  std::vector<uint64_t> lineage;
  registry.TrackedLineage(registry.Current(kLoop, kTask), 8, &lineage);
  linker.OnAsyncRequestStart(Trace(2), kLoop, lineage, 1200);
  Answer(1, kTask, 1000, 2000);
  SpanFacts call;
  call.tgid = kLoop;
  call.request_start_ns = 1200;
  call.end_ns = 2500;  // ended after the answer started
  call.orphan_client = true;
  linker.Add(MakeSpan(SpanKind::kClient, Trace(2), Id(2), "ambiguous"), call, &ready);
  ExpectUnlinked(2);
  EXPECT_EQ(linker.async_stats().released, 1u);
  EXPECT_EQ(linker.held_spans(), 0u);
}

// asyncio copies some contexts in Python (call_soon), where weft cannot see
// it; such a copy may reuse the address of a freed task context, and a task
// created in it then descends, for weft, from that task's old generation.
// Here request 5's task is created in a copy that reused the address of
// request 1's child task: request 1's answer must not decide request 5's
// call, which its own (nearer) task answers later.
TEST_F(AsyncTaskLinkerTest, AnEarlierRequestsAnswerDoesNotReleaseALaterRequestsCall) {
  Copy(kConn, kTask, 1100);   // request 1's task
  Copy(kTask, kChild, 1110);  // its child task (asyncio.gather)
  // Request 1's call, still open when it answers: its task stays answered.
  std::vector<uint64_t> lineage;
  registry.TrackedLineage(registry.Current(kLoop, kChild), HandoffOptions{}.max_task_ancestors,
                          &lineage);
  linker.OnAsyncRequestStart(Trace(2), kLoop, lineage, 1200);
  Answer(1, kTask, 1000, 2000);
  // Request 5, read at 2100: its task comes from the unseen copy at kChild.
  Copy(kChild, kTask2, 2200);
  Call(6, kTask2, 2300, 2400);
  EXPECT_EQ(Find(ready, Id(6)), nullptr) << "request 1's answer released request 5's call";
  Answer(5, kTask2, 2100, 2500);
  ExpectLinked(6, 5);
  EXPECT_EQ(linker.async_stats().released, 0u);
}

// The same unseen copy under a new connection per request: request 5's
// connection task is created in it, then request 5's task and its child.
// Request 1 answers after request 5's call ended, inside its lifetime:
// that call is still request 5's.
TEST_F(AsyncTaskLinkerTest, AnEarlierRequestDoesNotTakeALaterRequestsCallThroughItsConnection) {
  constexpr uint64_t kChild2 = 0x4100;
  Copy(kConn, kTask, 1100);     // request 1's task
  Copy(kTask, kChild, 1110);    // its child task, finished by 1290
  Copy(kChild, kConn2, 1300);   // request 5's connection (unseen copy at kChild)
  Copy(kConn2, kTask2, 1450);   // request 5's task, read at 1400
  Copy(kTask2, kChild2, 1460);  // its child task
  Call(6, kChild2, 1500, 1600);
  Answer(1, kTask, 1000, 1650);
  EXPECT_EQ(Find(ready, Id(6)), nullptr) << "request 1 took request 5's call";
  Answer(5, kTask2, 1400, 1700);
  ExpectLinked(6, 5);
}

TEST_F(AsyncTaskLinkerTest, AnAnswerWaitsForOpenCallsOnlyUntilTheHoldExpires) {
  Copy(kConn, kTask, 1100);
  std::vector<uint64_t> lineage;
  registry.TrackedLineage(registry.Current(kLoop, kTask), 8, &lineage);
  linker.OnAsyncRequestStart(Trace(2), kLoop, lineage, 1200);
  Answer(1, kTask, 1000, 2000);
  linker.Expire(1200 + HandoffOptions{}.hold_ns, &ready);
  EXPECT_EQ(linker.async_stats().released, 1u);
  SpanFacts call;
  call.tgid = kLoop;
  call.request_start_ns = 1200;
  call.end_ns = 1800;
  call.orphan_client = true;
  linker.Add(MakeSpan(SpanKind::kClient, Trace(2), Id(2), "ambiguous"), call, &ready);
  ExpectUnlinked(2);
}

TEST_F(AsyncTaskLinkerTest, UndecidedCallsAreReleasedUnlinkedWhenTheHoldExpires) {
  Copy(kConn, kTask, 1100);
  Call(2, kTask, 1200, 1800);
  linker.Expire(1200 + HandoffOptions{}.hold_ns - 1, &ready);
  EXPECT_TRUE(ready.empty());
  linker.Expire(1200 + HandoffOptions{}.hold_ns, &ready);
  EXPECT_EQ(ready.size(), 2u);
  ExpectUnlinked(2);
  EXPECT_EQ(linker.async_stats().released, 1u);
  EXPECT_EQ(linker.async_stats().spans_delayed, 2u);
  // A late answer from the task finds nothing left to link.
  Answer(1, kTask, 1000, 2000);
  EXPECT_EQ(linker.async_stats().linked, 0u);
}

TEST_F(AsyncTaskLinkerTest, FlushReleasesHeldCalls) {
  Copy(kConn, kTask, 1100);
  Call(2, kTask, 1200, 1800);
  linker.Flush(&ready);
  EXPECT_EQ(ready.size(), 2u);
  EXPECT_EQ(linker.held_spans(), 0u);
}

TEST_F(AsyncTaskLinkerTest, DisabledHoldsNothing) {
  HandoffOptions off;
  off.async_tasks = false;
  HandoffLinker disabled(off);
  Copy(kConn, kTask, 1100);
  std::vector<uint64_t> lineage;
  registry.TrackedLineage(registry.Current(kLoop, kTask), 8, &lineage);
  disabled.OnServerRequestStart(kLoop);
  disabled.OnAsyncRequestStart(Trace(2), kLoop, lineage, 1200);
  SpanFacts call;
  call.orphan_client = true;
  disabled.Add(MakeSpan(SpanKind::kClient, Trace(2), Id(2), "ambiguous"), call, &ready);
  EXPECT_EQ(ready.size(), 1u);
  EXPECT_EQ(disabled.async_stats().calls, 0u);
}

TEST_F(AsyncTaskLinkerTest, ThreadPoolHandoffStillLinksAlongsideAsyncCalls) {
  constexpr uint32_t kPool = 100, kReactor = 101, kWorker = 102;
  // The pool process is seen answering on another thread than the reader.
  SpanFacts pool_answer;
  pool_answer.tgid = kPool;
  pool_answer.request_tid = kReactor;
  pool_answer.response_tid = kWorker + 1;
  linker.Add(MakeSpan(SpanKind::kServer, Trace(99), Id(99), "none"), pool_answer, &ready);
  ready.clear();
  // An asyncio call and a pool call held at once.
  Copy(kConn, kTask, 1100);
  Call(2, kTask, 1200, 1800);
  linker.OnOrphanRequestStart(Trace(7), kPool, kWorker, 1300);
  SpanFacts pool_call;
  pool_call.tgid = kPool;
  pool_call.request_tid = pool_call.response_tid = kWorker;
  pool_call.request_start_ns = 1300;
  pool_call.response_start_ns = 1400;
  pool_call.end_ns = 1500;
  pool_call.orphan_client = true;
  linker.Add(MakeSpan(SpanKind::kClient, Trace(7), Id(7), "none"), pool_call, &ready);
  // The worker answers request 8, read by the reactor at 1250.
  SpanFacts worker_answer;
  worker_answer.tgid = kPool;
  worker_answer.request_tid = kReactor;
  worker_answer.response_tid = kWorker;
  worker_answer.request_start_ns = 1250;
  worker_answer.response_start_ns = 1600;
  worker_answer.end_ns = 1601;
  linker.Add(MakeSpan(SpanKind::kServer, Trace(8), Id(8), "none"), worker_answer, &ready);
  const Span* pooled = Find(ready, Id(7));
  ASSERT_NE(pooled, nullptr);
  EXPECT_EQ(pooled->parent_span_id, Id(8));
  EXPECT_EQ(LinkSourceOf(*pooled), "handoff");
  EXPECT_EQ(Find(ready, Id(2)), nullptr) << "the asyncio call waits for its own task";
  Answer(1, kTask, 1000, 2000);
  ExpectLinked(2, 1);
  EXPECT_EQ(linker.stats().linked, 1u);
  EXPECT_EQ(linker.async_stats().linked, 1u);
}

TEST_F(AsyncTaskLinkerTest, CallHeldByBothRulesIsCountedOnceByEach) {
  constexpr uint32_t kWorker = 102;
  // A pool thread running asyncio code: the call is held by thread and task.
  SpanFacts pool_answer;
  pool_answer.tgid = kLoop;
  pool_answer.request_tid = 1;
  pool_answer.response_tid = 2;
  linker.Add(MakeSpan(SpanKind::kServer, Trace(99), Id(99), "none"), pool_answer, &ready);
  ready.clear();
  Copy(kConn, kTask, 1100);
  linker.OnOrphanRequestStart(Trace(2), kLoop, kWorker, 1200);
  Call(2, kTask, 1200, 1800, "none");
  Answer(1, kTask, 1000, 2000);
  ExpectLinked(2, 1);
  EXPECT_EQ(linker.async_stats().linked, 1u);
  EXPECT_EQ(linker.stats().orphan_calls, 1u);
  EXPECT_EQ(linker.stats().released, 1u) << "not linked by the thread rule";
  linker.Expire(1200 + HandoffOptions{}.hold_ns, &ready);
  EXPECT_EQ(linker.stats().released, 1u) << "counted once";
}

}  // namespace
}  // namespace weft
