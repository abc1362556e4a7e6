#include "agent/resources/otel_env.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "agent/resources/uuid5.h"

namespace weft::resources {
namespace {

using ::testing::ElementsAre;
using ::testing::Pair;

TEST(PercentDecodeTest, DecodesEscapes) {
  EXPECT_EQ(*PercentDecode("a%2Cb%3Dc%20d"), "a,b=c d");
  EXPECT_EQ(*PercentDecode("%e2%9c%93"), "\xe2\x9c\x93");
  EXPECT_EQ(*PercentDecode("plain"), "plain");
  EXPECT_EQ(*PercentDecode(""), "");
}

TEST(PercentDecodeTest, RejectsBrokenEscapes) {
  EXPECT_FALSE(PercentDecode("50%").ok());
  EXPECT_FALSE(PercentDecode("%4").ok());
  EXPECT_FALSE(PercentDecode("%zz").ok());
}

TEST(ParseOtelResourceAttributesTest, ParsesTrimsAndDecodes) {
  absl::StatusOr<KeyValues> pairs = ParseOtelResourceAttributes(
      " service.name = shop%20front , deployment.environment=prod,,team=a%2Cb ");
  ASSERT_TRUE(pairs.ok()) << pairs.status();
  EXPECT_THAT(*pairs, ElementsAre(Pair("service.name", "shop front"),
                                  Pair("deployment.environment", "prod"), Pair("team", "a,b")));
}

TEST(ParseOtelResourceAttributesTest, ValueMayContainEqualsAndBeEmpty) {
  absl::StatusOr<KeyValues> pairs = ParseOtelResourceAttributes("query=a=b,empty=");
  ASSERT_TRUE(pairs.ok()) << pairs.status();
  EXPECT_THAT(*pairs, ElementsAre(Pair("query", "a=b"), Pair("empty", "")));
}

TEST(ParseOtelResourceAttributesTest, LastDuplicateWins) {
  absl::StatusOr<KeyValues> pairs = ParseOtelResourceAttributes("k=1,j=2,k=3");
  ASSERT_TRUE(pairs.ok());
  EXPECT_THAT(*pairs, ElementsAre(Pair("k", "3"), Pair("j", "2")));
}

TEST(ParseOtelResourceAttributesTest, EmptyValueIsNoAttributes) {
  absl::StatusOr<KeyValues> pairs = ParseOtelResourceAttributes("");
  ASSERT_TRUE(pairs.ok());
  EXPECT_TRUE(pairs->empty());
}

TEST(ParseOtelResourceAttributesTest, AnyMalformedMemberRejectsTheWholeValue) {
  EXPECT_FALSE(ParseOtelResourceAttributes("good=1,novalue").ok());
  EXPECT_FALSE(ParseOtelResourceAttributes("=orphan").ok());
  EXPECT_FALSE(ParseOtelResourceAttributes("good=1,bad=%G1").ok());
  EXPECT_FALSE(ParseOtelResourceAttributes(",,=,,").ok());
}

TEST(UuidV5Test, MatchesPythonUuid5) {
  // python3 -c "import uuid; print(uuid.uuid5(uuid.UUID(
  //   '4d63009a-8d0f-11ee-aad7-4c796ed8e320'), 'host:1:2'))"
  absl::StatusOr<Uuid> uuid = UuidV5(kServiceInstanceNamespace, "host:1:2");
  ASSERT_TRUE(uuid.ok());
  EXPECT_EQ(FormatUuid(*uuid), "c57698ba-19bf-5287-8fd7-b12466209ad6");
  EXPECT_EQ(FormatUuid(kServiceInstanceNamespace), "4d63009a-8d0f-11ee-aad7-4c796ed8e320");
}

}  // namespace
}  // namespace weft::resources
