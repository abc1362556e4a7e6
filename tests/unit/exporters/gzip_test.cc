#include "exporters/otlp/gzip.h"

#include <gtest/gtest.h>

namespace weft {
namespace {

TEST(Gzip, RoundTripsWithGzipMagic) {
  std::string data;
  for (int i = 0; i < 1000; ++i) data += "span-" + std::to_string(i % 7);
  absl::StatusOr<std::string> compressed = GzipCompress(data);
  ASSERT_TRUE(compressed.ok());
  ASSERT_GE(compressed->size(), 2u);
  EXPECT_EQ(static_cast<unsigned char>((*compressed)[0]), 0x1f);
  EXPECT_EQ(static_cast<unsigned char>((*compressed)[1]), 0x8b);
  EXPECT_LT(compressed->size(), data.size());
  EXPECT_EQ(*GzipDecompress(*compressed), data);
  EXPECT_EQ(*GzipDecompress(*GzipCompress("")), "");
}

TEST(Gzip, RejectsGarbageAndTruncation) {
  EXPECT_FALSE(GzipDecompress("not gzip at all").ok());
  std::string compressed = *GzipCompress(std::string(5000, 'x'));
  EXPECT_FALSE(GzipDecompress(compressed.substr(0, compressed.size() / 2)).ok());
}

}  // namespace
}  // namespace weft
