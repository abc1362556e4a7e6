// Pins the kernel/user ABI of bpf/propagate.h: counter indexes the agent
// reads and the bounds the sk_msg program and the docs promise.
#include <string>

#include "bpf/propagate.h"
#include "gtest/gtest.h"

namespace {

TEST(PropagateAbi, CounterIndexes) {
  EXPECT_EQ(WEFT_PROP_SOCKETS_ADDED, 0);
  EXPECT_EQ(WEFT_PROP_SOCKHASH_FULL, 1);
  EXPECT_EQ(WEFT_PROP_INJECTED, 2);
  EXPECT_EQ(WEFT_PROP_CONTINUATION, 3);
  EXPECT_EQ(WEFT_PROP_HAS_TRACEPARENT, 4);
  EXPECT_EQ(WEFT_PROP_HEADERS_INCOMPLETE, 5);
  EXPECT_EQ(WEFT_PROP_NOT_HTTP1, 6);
  EXPECT_EQ(WEFT_PROP_PUSH_FAILED, 7);
  EXPECT_EQ(WEFT_PROP_UNTRACED_SENDER, 8);
  EXPECT_EQ(WEFT_PROP_BYTES_INJECTED, 9);
  EXPECT_EQ(WEFT_PROP_STAT_MAX, 10);
}

TEST(PropagateAbi, LineLengthMatchesTheW3cFormat) {
  std::string line = "traceparent: 00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01\r\n";
  EXPECT_EQ(line.size(), static_cast<size_t>(WEFT_TRACEPARENT_LINE_LEN));
}

TEST(PropagateAbi, HeaderBoundIsAPowerOfTwo) {
  // The sk_msg program masks offsets with WEFT_PROPAGATE_HEADER_BOUND - 1.
  EXPECT_EQ(WEFT_PROPAGATE_HEADER_BOUND & (WEFT_PROPAGATE_HEADER_BOUND - 1), 0);
  EXPECT_GE(WEFT_PROPAGATE_HEADER_BOUND, 1024);
}

}  // namespace
