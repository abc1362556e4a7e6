#include "exporters/console/trace_buffer.h"

#include <gtest/gtest.h>

namespace weft {
namespace {

const absl::Time kT0 = absl::FromUnixSeconds(1'000'000);

Span MakeSpan(uint8_t trace, uint8_t id, uint8_t parent, SpanKind kind = SpanKind::kServer) {
  Span span;
  span.trace_id.fill(trace);
  span.span_id.fill(id);
  if (parent != 0) span.parent_span_id.fill(parent);
  span.kind = kind;
  return span;
}

TraceBufferOptions Options() {
  TraceBufferOptions options;
  options.grace = absl::Milliseconds(300);
  options.incomplete_timeout = absl::Seconds(30);
  return options;
}

TEST(TraceBuffer, WaitsForGraceAfterTheLastSpanOnceARootIsThere) {
  TraceBuffer buffer(Options());
  buffer.Add({MakeSpan(1, 2, 1, SpanKind::kClient)}, kT0);
  EXPECT_TRUE(buffer.TakeReady(kT0 + absl::Seconds(1)).empty()) << "no root yet";
  buffer.Add({MakeSpan(1, 1, 0)}, kT0 + absl::Seconds(2));
  EXPECT_TRUE(buffer.TakeReady(kT0 + absl::Seconds(2) + absl::Milliseconds(299)).empty());
  std::vector<ReadyTrace> ready =
      buffer.TakeReady(kT0 + absl::Seconds(2) + absl::Milliseconds(300));
  ASSERT_EQ(ready.size(), 1u);
  EXPECT_EQ(ready[0].reason, ReadyTrace::Reason::kComplete);
  EXPECT_EQ(ready[0].spans.size(), 2u);
  EXPECT_EQ(buffer.buffered_spans(), 0u);
}

TEST(TraceBuffer, ServerSpanWithAbsentParentCountsAsRoot) {
  TraceBuffer buffer(Options());
  buffer.Add({MakeSpan(1, 5, 9, SpanKind::kServer)}, kT0);  // caller on another node
  EXPECT_EQ(buffer.TakeReady(kT0 + absl::Milliseconds(300)).size(), 1u);
  buffer.Add({MakeSpan(2, 5, 9, SpanKind::kClient)}, kT0);  // a CLIENT is no root
  EXPECT_TRUE(buffer.TakeReady(kT0 + absl::Milliseconds(300)).empty());
}

TEST(TraceBuffer, IncompleteTracesTimeOutAndLateSpansAreLabelled) {
  TraceBuffer buffer(Options());
  buffer.Add({MakeSpan(3, 2, 1, SpanKind::kClient)}, kT0);
  std::vector<ReadyTrace> ready = buffer.TakeReady(kT0 + absl::Seconds(30));
  ASSERT_EQ(ready.size(), 1u);
  EXPECT_EQ(ready[0].reason, ReadyTrace::Reason::kTimedOut);
  buffer.Add({MakeSpan(3, 1, 0)}, kT0 + absl::Seconds(31));
  ready = buffer.TakeReady(kT0 + absl::Seconds(32));
  ASSERT_EQ(ready.size(), 1u);
  EXPECT_EQ(ready[0].reason, ReadyTrace::Reason::kLate);
}

TEST(TraceBuffer, MemoryBoundEvictsOldestTraces) {
  TraceBufferOptions options = Options();
  options.max_buffered_spans = 3;
  TraceBuffer buffer(options);
  buffer.Add({MakeSpan(1, 2, 1, SpanKind::kClient), MakeSpan(1, 3, 1, SpanKind::kClient)}, kT0);
  buffer.Add({MakeSpan(2, 2, 1, SpanKind::kClient)}, kT0 + absl::Seconds(1));
  buffer.Add({MakeSpan(3, 2, 1, SpanKind::kClient)}, kT0 + absl::Seconds(2));
  std::vector<ReadyTrace> ready = buffer.TakeReady(kT0 + absl::Seconds(2));
  ASSERT_EQ(ready.size(), 1u);
  EXPECT_EQ(ready[0].trace_id[0], 1);
  EXPECT_EQ(ready[0].reason, ReadyTrace::Reason::kEvicted);
  EXPECT_EQ(buffer.buffered_spans(), 2u);
}

TEST(TraceBuffer, TakeAllReturnsInArrivalOrder) {
  TraceBuffer buffer(Options());
  buffer.Add({MakeSpan(9, 1, 0)}, kT0);
  buffer.Add({MakeSpan(4, 2, 1, SpanKind::kClient)}, kT0 + absl::Seconds(1));
  std::vector<ReadyTrace> all = buffer.TakeAll();
  ASSERT_EQ(all.size(), 2u);
  EXPECT_EQ(all[0].trace_id[0], 9);
  EXPECT_EQ(all[0].reason, ReadyTrace::Reason::kComplete);
  EXPECT_EQ(all[1].reason, ReadyTrace::Reason::kFlushed);
}

}  // namespace
}  // namespace weft
