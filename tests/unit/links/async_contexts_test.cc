#include "agent/links/async_contexts.h"

#include <vector>

#include "gtest/gtest.h"

namespace weft {
namespace {

constexpr uint32_t kProcess = 42;

AsyncContextEvent CopyEvent(uint64_t parent, uint64_t child, uint64_t at,
                            uint32_t tgid = kProcess) {
  return AsyncContextEvent{at, tgid, tgid, parent, child};
}

TEST(AsyncContextRegistry, AddressZeroIsNoContext) {
  AsyncContextRegistry registry;
  EXPECT_EQ(registry.Current(kProcess, 0), 0u);
  EXPECT_EQ(registry.generation_count(), 0u);
}

TEST(AsyncContextRegistry, AnAddressSeenOnlyInDataIsUntracked) {
  AsyncContextRegistry registry;
  uint64_t g = registry.Current(kProcess, 0x10);
  ASSERT_NE(g, 0u);
  EXPECT_EQ(registry.Current(kProcess, 0x10), g) << "stable until a copy reuses the address";
  const auto* generation = registry.Find(g);
  ASSERT_NE(generation, nullptr);
  EXPECT_FALSE(generation->tracked);
  EXPECT_EQ(generation->parent, 0u);
  EXPECT_EQ(registry.stats().untracked, 1u);
}

TEST(AsyncContextRegistry, ACopyStartsANewGenerationWithItsParent) {
  AsyncContextRegistry registry;
  registry.OnCopy(CopyEvent(0x10, 0x20, 500));
  const uint64_t child = registry.Current(kProcess, 0x20);
  const uint64_t parent = registry.Current(kProcess, 0x10);
  const auto* g = registry.Find(child);
  ASSERT_NE(g, nullptr);
  EXPECT_TRUE(g->tracked);
  EXPECT_EQ(g->created_ns, 500u);
  EXPECT_EQ(g->parent, parent);
  EXPECT_FALSE(registry.Find(parent)->tracked) << "the parent was never seen created";
}

TEST(AsyncContextRegistry, AReusedAddressIsANewGeneration) {
  AsyncContextRegistry registry;
  registry.OnCopy(CopyEvent(0x10, 0x20, 500));
  const uint64_t first = registry.Current(kProcess, 0x20);
  registry.OnCopy(CopyEvent(0x30, 0x20, 900));
  const uint64_t second = registry.Current(kProcess, 0x20);
  EXPECT_NE(first, second);
  EXPECT_EQ(registry.Find(second)->created_ns, 900u);
  EXPECT_EQ(registry.Find(second)->parent, registry.Current(kProcess, 0x30));
  ASSERT_NE(registry.Find(first), nullptr) << "the old generation stays known to its calls";
  EXPECT_EQ(registry.Find(first)->created_ns, 500u);
}

TEST(AsyncContextRegistry, ProcessesDoNotShareAddresses) {
  AsyncContextRegistry registry;
  registry.OnCopy(CopyEvent(0x10, 0x20, 500, 1));
  EXPECT_NE(registry.Current(1, 0x20), registry.Current(2, 0x20));
  EXPECT_FALSE(registry.Find(registry.Current(2, 0x20))->tracked);
}

TEST(AsyncContextRegistry, LineageKeepsTrackedAncestorsNearestFirstWithinTheDepth) {
  AsyncContextRegistry registry;
  // 0x100 (untracked) -> 0x101 -> 0x102 -> ... -> 0x10c
  for (uint64_t a = 0x100; a < 0x10c; ++a) registry.OnCopy(CopyEvent(a, a + 1, a));
  std::vector<uint64_t> lineage;
  registry.TrackedLineage(registry.Current(kProcess, 0x10c), 8, &lineage);
  ASSERT_EQ(lineage.size(), 9u) << "itself and 8 ancestors";
  EXPECT_EQ(lineage[0], registry.Current(kProcess, 0x10c));
  EXPECT_EQ(lineage[8], registry.Current(kProcess, 0x104));
  lineage.clear();
  registry.TrackedLineage(registry.Current(kProcess, 0x102), 8, &lineage);
  EXPECT_EQ(lineage.size(), 2u) << "the untracked root is left out";
  lineage.clear();
  registry.TrackedLineage(registry.Current(kProcess, 0x100), 8, &lineage);
  EXPECT_TRUE(lineage.empty());
}

TEST(AsyncContextRegistry, TheOldestGenerationsAreForgottenBeyondTheCap) {
  AsyncContextRegistry registry(AsyncContextOptions{.max_generations_per_process = 4});
  registry.OnCopy(CopyEvent(0, 0x1, 10));
  const uint64_t oldest = registry.Current(kProcess, 0x1);
  for (uint64_t a = 0x2; a <= 0x5; ++a) registry.OnCopy(CopyEvent(0, a, 10 + a));
  EXPECT_EQ(registry.generation_count(), 4u);
  EXPECT_EQ(registry.stats().evicted, 1u);
  EXPECT_EQ(registry.stats().evicted_current, 1u);
  EXPECT_EQ(registry.Find(oldest), nullptr);
  const uint64_t again = registry.Current(kProcess, 0x1);
  EXPECT_NE(again, oldest);
  EXPECT_FALSE(registry.Find(again)->tracked) << "a forgotten context proves nothing";
}

TEST(AsyncContextRegistry, EvictingAnOldGenerationKeepsTheAddressesNewerOne) {
  AsyncContextRegistry registry(AsyncContextOptions{.max_generations_per_process = 2});
  registry.OnCopy(CopyEvent(0, 0x1, 10));
  registry.OnCopy(CopyEvent(0, 0x1, 20));
  const uint64_t newer = registry.Current(kProcess, 0x1);
  registry.OnCopy(CopyEvent(0, 0x2, 30));  // evicts the first generation of 0x1
  EXPECT_EQ(registry.Current(kProcess, 0x1), newer);
}

TEST(AsyncContextRegistry, ContextsStillCurrentOutliveNewerSupersededOnes) {
  AsyncContextRegistry registry(AsyncContextOptions{.max_generations_per_process = 3});
  registry.OnCopy(CopyEvent(0, 0x1, 10));  // a long request's task
  const uint64_t long_lived = registry.Current(kProcess, 0x1);
  // Short tasks whose contexts CPython keeps reusing.
  for (uint64_t at = 20; at < 200; at += 10) registry.OnCopy(CopyEvent(0, 0x2, at));
  const uint64_t latest = registry.Current(kProcess, 0x2);
  EXPECT_EQ(registry.generation_count(), 3u);
  EXPECT_EQ(registry.Current(kProcess, 0x1), long_lived);
  ASSERT_NE(registry.Find(long_lived), nullptr);
  EXPECT_TRUE(registry.Find(long_lived)->tracked);
  EXPECT_NE(registry.Find(latest), nullptr);
  EXPECT_EQ(registry.stats().evicted, 16u);
  EXPECT_EQ(registry.stats().evicted_current, 0u);
}

TEST(AsyncContextRegistry, ManyGenerationsStayWithinTheCap) {
  AsyncContextRegistry registry(AsyncContextOptions{.max_generations_per_process = 8});
  registry.OnCopy(CopyEvent(0, 0x1, 1));  // current throughout, never superseded
  for (uint64_t i = 0; i < 1000; ++i) registry.OnCopy(CopyEvent(0, 0x100 + i % 5, 10 + i));
  EXPECT_EQ(registry.generation_count(), 8u);
  EXPECT_NE(registry.Find(registry.Current(kProcess, 0x1)), nullptr);
  EXPECT_EQ(registry.stats().evicted_current, 0u);
  for (uint64_t i = 0; i < 1000; ++i) registry.OnCopy(CopyEvent(0, 0x1000 + i, 2000 + i));
  EXPECT_EQ(registry.generation_count(), 8u) << "all current: the oldest go";
  EXPECT_GE(registry.stats().evicted_current, 990u);
}

TEST(AsyncContextRegistry, AnExitedProcessIsForgotten) {
  AsyncContextRegistry registry;
  registry.OnCopy(CopyEvent(0x10, 0x20, 500));
  const uint64_t g = registry.Current(kProcess, 0x20);
  registry.OnCopy(CopyEvent(0x10, 0x20, 500, 7));
  registry.ForgetProcess(kProcess);
  EXPECT_EQ(registry.Find(g), nullptr);
  EXPECT_EQ(registry.generation_count(), 2u) << "the other process keeps its own";
  EXPECT_EQ(registry.stats().processes_forgotten, 1u);
  EXPECT_NE(registry.Current(kProcess, 0x20), g) << "ids are never reused";
}

}  // namespace
}  // namespace weft
