// The agent's traced-slot rules (agent/probes/traced_slots.h), which must
// match the kernel's (bpf/capture_maps.bpf.h): a missing "may" bit makes the
// socket programs skip a lookup, so a bit must never be lost.
#include "agent/probes/traced_slots.h"

#include <gtest/gtest.h>

#include <cstdint>
#include <thread>
#include <vector>

namespace weft {
namespace {

TEST(TracedSlotsTest, ClaimTakesAnEmptySlot) {
  uint64_t slot = 0;
  ClaimTracedSlot(&slot, 1234);
  EXPECT_EQ(slot, 1234u);
  EXPECT_TRUE(SlotHeldBy(slot, 1234));
  EXPECT_FALSE(SlotHeldBy(slot, 1234 + WEFT_TRACED_SLOTS));
}

TEST(TracedSlotsTest, ClaimKeepsTheBitsOfASlotAlreadyHeld) {
  uint64_t slot = 1234 | WEFT_SLOT_MAY_GO;
  ClaimTracedSlot(&slot, 1234);
  EXPECT_EQ(slot, 1234 | WEFT_SLOT_MAY_GO);
}

TEST(TracedSlotsTest, ASecondProcessMakesTheSlotSharedWithEveryBit) {
  uint64_t slot = 0;
  ClaimTracedSlot(&slot, 7);
  ClaimTracedSlot(&slot, 7 + WEFT_TRACED_SLOTS);
  EXPECT_EQ(slot, WEFT_TRACED_SLOT_SHARED);
  EXPECT_EQ(slot & WEFT_SLOT_MAY_ALL, WEFT_SLOT_MAY_ALL);
  EXPECT_FALSE(SlotHeldBy(slot, 7));
}

TEST(TracedSlotsTest, MarkSetsABitOnlyOnASlotHeldAlone) {
  uint64_t slot = 0;
  ClaimTracedSlot(&slot, 42);
  MarkTracedSlot(&slot, 42, WEFT_SLOT_MAY_SSL);
  MarkTracedSlot(&slot, 42, WEFT_SLOT_MAY_PROXY);
  EXPECT_EQ(slot, 42 | WEFT_SLOT_MAY_SSL | WEFT_SLOT_MAY_PROXY);

  MarkTracedSlot(&slot, 43, WEFT_SLOT_MAY_GO);  // not its slot's holder
  EXPECT_EQ(slot & WEFT_SLOT_MAY_GO, 0u);

  uint64_t shared = WEFT_TRACED_SLOT_SHARED;
  MarkTracedSlot(&shared, 42, WEFT_SLOT_MAY_GO);
  EXPECT_EQ(shared, WEFT_TRACED_SLOT_SHARED);

  uint64_t empty = 0;
  MarkTracedSlot(&empty, 42, WEFT_SLOT_MAY_GO);  // untraced: nothing to mark
  EXPECT_EQ(empty, 0u);
}

TEST(TracedSlotsTest, ReleaseEmptiesTheSlotWithItsBits) {
  uint64_t slot = 0;
  ClaimTracedSlot(&slot, 99);
  MarkTracedSlot(&slot, 99, WEFT_SLOT_MAY_PY);
  ReleaseTracedSlot(&slot, 99);
  EXPECT_EQ(slot, 0u);
  // A process traced again starts without bits.
  ClaimTracedSlot(&slot, 99);
  EXPECT_EQ(slot, 99u);
}

TEST(TracedSlotsTest, ReleaseLeavesSharedAndOtherProcessesSlots) {
  uint64_t shared = WEFT_TRACED_SLOT_SHARED;
  ReleaseTracedSlot(&shared, 5);
  EXPECT_EQ(shared, WEFT_TRACED_SLOT_SHARED);
  uint64_t other = 6 | WEFT_SLOT_MAY_SSL;
  ReleaseTracedSlot(&other, 5);
  EXPECT_EQ(other, 6 | WEFT_SLOT_MAY_SSL);
}

TEST(TracedSlotsTest, TgidZeroNeverHoldsASlot) {
  // The idle task's tgid is 0, and so is an empty slot's value.
  EXPECT_FALSE(SlotHeldBy(0, 0));
  EXPECT_FALSE(SlotHeldBy(WEFT_SLOT_MAY_SSL, 0));
  uint64_t slot = WEFT_SLOT_MAY_SSL;
  MarkTracedSlot(&slot, 0, WEFT_SLOT_MAY_GO);
  EXPECT_EQ(slot, WEFT_SLOT_MAY_SSL);
}

TEST(TracedSlotsTest, ConcurrentMarksLoseNoBit) {
  const uint64_t bits[] = {WEFT_SLOT_MAY_SSL, WEFT_SLOT_MAY_GO, WEFT_SLOT_MAY_PROXY,
                           WEFT_SLOT_MAY_MULTIPLEX, WEFT_SLOT_MAY_PY};
  for (int trial = 0; trial < 200; ++trial) {
    uint64_t slot = 0;
    ClaimTracedSlot(&slot, 314);
    std::vector<std::thread> markers;
    for (uint64_t bit : bits) {
      markers.emplace_back([&slot, bit] { MarkTracedSlot(&slot, 314, bit); });
    }
    for (auto& t : markers) t.join();
    ASSERT_EQ(slot, 314 | WEFT_SLOT_MAY_ALL) << "trial " << trial;
  }
}

}  // namespace
}  // namespace weft
