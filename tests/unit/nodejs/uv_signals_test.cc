// libuv's signal watcher tree, read from a fake process memory laid out the
// way libuv 1.x lays out uv_signal_t on x86-64.
#include "agent/nodejs/uv_signals.h"

#include <gtest/gtest.h>

#include <csignal>
#include <cstring>
#include <map>
#include <vector>

namespace weft::nodejs {
namespace {

class FakeMemory {
 public:
  // A watcher node at `address` with its signal and children.
  void Watcher(uint64_t address, int signum, uint64_t left, uint64_t right, int type = 16) {
    std::vector<uint8_t> node(UvSignalLayout{}.size);
    const UvSignalLayout layout;
    std::memcpy(node.data() + layout.type, &type, sizeof(type));
    std::memcpy(node.data() + layout.signum, &signum, sizeof(signum));
    std::memcpy(node.data() + layout.left, &left, sizeof(left));
    std::memcpy(node.data() + layout.right, &right, sizeof(right));
    blocks_[address] = node;
  }
  void Pointer(uint64_t address, uint64_t value) {
    std::vector<uint8_t> bytes(sizeof(value));
    std::memcpy(bytes.data(), &value, sizeof(value));
    blocks_[address] = bytes;
  }
  ReadMemory Reader() {
    return [this](uint64_t address, void* out, size_t size) {
      auto it = blocks_.find(address);
      if (it == blocks_.end() || it->second.size() < size) return false;
      std::memcpy(out, it->second.data(), size);
      return true;
    };
  }

 private:
  std::map<uint64_t, std::vector<uint8_t>> blocks_;
};

constexpr uint64_t kTree = 0x1000;

TEST(UvWatchesSignal, EmptyTreeWatchesNothing) {
  FakeMemory memory;
  memory.Pointer(kTree, 0);
  auto watches = UvWatchesSignal(memory.Reader(), kTree, SIGUSR1);
  ASSERT_TRUE(watches.ok()) << watches.status();
  EXPECT_FALSE(*watches);
}

TEST(UvWatchesSignal, FindsTheSignalAnywhereInTheTree) {
  // SIGINT at the root, SIGTERM to its right, SIGUSR1 under SIGTERM's left.
  FakeMemory memory;
  memory.Pointer(kTree, 0x2000);
  memory.Watcher(0x2000, SIGINT, 0, 0x3000);
  memory.Watcher(0x3000, SIGTERM, 0x4000, 0);
  memory.Watcher(0x4000, SIGUSR1, 0, 0);
  auto watches = UvWatchesSignal(memory.Reader(), kTree, SIGUSR1);
  ASSERT_TRUE(watches.ok()) << watches.status();
  EXPECT_TRUE(*watches);
  auto usr2 = UvWatchesSignal(memory.Reader(), kTree, SIGUSR2);
  ASSERT_TRUE(usr2.ok()) << usr2.status();
  EXPECT_FALSE(*usr2);
}

TEST(UvWatchesSignal, UnreadableMemoryIsAnErrorNotANo) {
  FakeMemory memory;
  EXPECT_FALSE(UvWatchesSignal(memory.Reader(), kTree, SIGUSR1).ok());
  memory.Pointer(kTree, 0x2000);  // the root points nowhere readable
  EXPECT_FALSE(UvWatchesSignal(memory.Reader(), kTree, SIGUSR1).ok());
}

TEST(UvWatchesSignal, ANodeThatIsNoSignalWatcherIsAnError) {
  FakeMemory memory;
  memory.Pointer(kTree, 0x2000);
  memory.Watcher(0x2000, SIGINT, 0x3000, 0);
  memory.Watcher(0x3000, SIGTERM, 0, 0, /*type=*/12);  // a TCP handle, not a signal
  EXPECT_FALSE(UvWatchesSignal(memory.Reader(), kTree, SIGUSR1).ok());
  FakeMemory bad_signal;
  bad_signal.Pointer(kTree, 0x2000);
  bad_signal.Watcher(0x2000, 4242, 0, 0);
  EXPECT_FALSE(UvWatchesSignal(bad_signal.Reader(), kTree, SIGUSR1).ok());
}

TEST(UvWatchesSignal, ACycleEndsInAnError) {
  FakeMemory memory;
  memory.Pointer(kTree, 0x2000);
  memory.Watcher(0x2000, SIGINT, 0x3000, 0);
  memory.Watcher(0x3000, SIGTERM, 0x2000, 0);
  EXPECT_FALSE(UvWatchesSignal(memory.Reader(), kTree, SIGUSR1).ok());
}

TEST(ProcessMemory, ReadsThisProcess) {
  static const uint64_t value = 0x1122334455667788;
  uint64_t out = 0;
  EXPECT_TRUE(ProcessMemory(getpid())(reinterpret_cast<uint64_t>(&value), &out, sizeof(out)));
  EXPECT_EQ(out, value);
  EXPECT_FALSE(ProcessMemory(getpid())(0, &out, sizeof(out)));
}

}  // namespace
}  // namespace weft::nodejs
