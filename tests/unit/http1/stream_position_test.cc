#include "agent/conn/stream_position.h"

#include <gtest/gtest.h>

namespace weft {
namespace {

DataEvent Event(uint32_t seq, std::string_view data, uint32_t total_len) {
  DataEvent ev;
  ev.seq = seq;
  ev.data = data;
  ev.total_len = total_len;
  ev.truncated = data.size() < total_len;
  ev.size_only = data.empty() && total_len > 0;
  return ev;
}

TEST(StreamPosition, ContiguousEventsHaveNoGaps) {
  StreamPosition pos;
  Placement a = pos.Place(Event(100, "abc", 3));
  EXPECT_EQ(a.gap_before, 0u);
  EXPECT_EQ(a.data, "abc");
  EXPECT_TRUE(a.data_at_event_start);
  Placement b = pos.Place(Event(103, "de", 2));
  EXPECT_EQ(b.gap_before, 0u);
  EXPECT_EQ(b.data, "de");
}

TEST(StreamPosition, DetectsHolesAndTruncation) {
  StreamPosition pos;
  pos.Place(Event(100, "abc", 3));
  Placement p = pos.Place(Event(110, "xy", 5));
  EXPECT_EQ(p.gap_before, 7u);
  EXPECT_EQ(p.data, "xy");
  EXPECT_EQ(p.gap_after, 3u);
  Placement size_only = pos.Place(Event(115, "", 50));
  EXPECT_EQ(size_only.gap_before, 0u);
  EXPECT_TRUE(size_only.data.empty());
  EXPECT_EQ(size_only.gap_after, 50u);
}

TEST(StreamPosition, WrapsAround) {
  StreamPosition pos;
  pos.Place(Event(0xFFFFFFFEu, "ab", 2));
  Placement p = pos.Place(Event(0, "cd", 2));
  EXPECT_EQ(p.gap_before, 0u);
  Placement q = pos.Place(Event(10, "e", 1));
  EXPECT_EQ(q.gap_before, 8u);
}

TEST(StreamPosition, ImplausibleJumpIsAHoleOfUnknownSize) {
  StreamPosition pos;
  pos.Place(Event(100, "ab", 2));
  EXPECT_EQ(pos.Place(Event(100 + 2 + (1u << 31) - 5, "c", 1)).gap_before, kUnknownGapLength);
}

TEST(StreamPosition, TrimsBytesAlreadySeen) {
  StreamPosition pos;
  pos.Place(Event(100, "abcdef", 6));
  Placement dup = pos.Place(Event(100, "abcdef", 6));
  EXPECT_TRUE(dup.data.empty());
  EXPECT_EQ(dup.overlap, 6u);
  Placement partial = pos.Place(Event(104, "efgh", 4));
  EXPECT_EQ(partial.overlap, 2u);
  EXPECT_EQ(partial.data, "gh");
  EXPECT_FALSE(partial.data_at_event_start);
  Placement next = pos.Place(Event(108, "i", 1));
  EXPECT_EQ(next.gap_before, 0u);
}

TEST(StreamPosition, WithoutSequenceUsesArrivalOrder) {
  StreamPosition pos;
  DataEvent ev = Event(12345, "abc", 10);
  ev.has_seq = false;
  Placement p = pos.Place(ev);
  EXPECT_EQ(p.data, "abc");
  EXPECT_EQ(p.gap_after, 7u);
  ev.seq = 1;
  EXPECT_EQ(pos.Place(ev).gap_before, 0u);
}

}  // namespace
}  // namespace weft
