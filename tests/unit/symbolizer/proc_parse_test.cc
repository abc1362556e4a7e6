#include "symbolizer/proc/proc_parse.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

namespace weft::proc {
namespace {

using ::testing::ElementsAre;

std::string StatLine(std::string_view comm) {
  // pid, comm, then fields 3..22 with ppid 77 and start time 123456.
  return std::string("4321 (") + std::string(comm) +
         ") S 77 4321 4321 0 -1 4194560 100 0 0 0 1 2 0 0 20 0 1 0 123456 1000 200 "
         "18446744073709551615\n";
}

TEST(ParseStatTest, ReadsPidCommParentAndStartTime) {
  absl::StatusOr<StatFields> fields = ParseStat(StatLine("python3"));
  ASSERT_TRUE(fields.ok()) << fields.status();
  EXPECT_EQ(fields->pid, 4321);
  EXPECT_EQ(fields->comm, "python3");
  EXPECT_EQ(fields->state, 'S');
  EXPECT_EQ(fields->parent_pid, 77);
  EXPECT_EQ(fields->start_time_ticks, 123456u);
}

TEST(ParseStatTest, CommWithParenthesesAndSpacesDoesNotShiftFields) {
  absl::StatusOr<StatFields> fields = ParseStat(StatLine("a) (b c) 9 9"));
  ASSERT_TRUE(fields.ok()) << fields.status();
  EXPECT_EQ(fields->comm, "a) (b c) 9 9");
  EXPECT_EQ(fields->parent_pid, 77);
  EXPECT_EQ(fields->start_time_ticks, 123456u);
}

TEST(ParseStatTest, EmptyCommIsAccepted) {
  absl::StatusOr<StatFields> fields = ParseStat(StatLine(""));
  ASSERT_TRUE(fields.ok()) << fields.status();
  EXPECT_EQ(fields->comm, "");
  EXPECT_EQ(fields->start_time_ticks, 123456u);
}

TEST(ParseStatTest, RejectsTruncatedAndGarbledLines) {
  EXPECT_FALSE(ParseStat("4321 (x) S 1 2 3").ok());
  EXPECT_FALSE(ParseStat("no parentheses at all").ok());
  EXPECT_FALSE(ParseStat("").ok());
  EXPECT_FALSE(ParseStat(")( 1 2").ok());
}

TEST(ParseStatusUidTest, TakesRealUid) {
  absl::StatusOr<uint32_t> uid = ParseStatusUid("Name:\tx\nUid:\t1000\t0\t0\t0\nGid:\t5\n");
  ASSERT_TRUE(uid.ok());
  EXPECT_EQ(*uid, 1000u);
  EXPECT_FALSE(ParseStatusUid("Name:\tx\n").ok());
}

TEST(SplitNulTest, SplitsArgvWithoutTrailingEmptyElement) {
  using namespace std::string_literals;
  EXPECT_THAT(SplitNul("python3\0catalog.py\0--port\0\0"s),
              ElementsAre("python3", "catalog.py", "--port", ""));
  EXPECT_THAT(SplitNul("a\0b"s), ElementsAre("a", "b"));
  EXPECT_TRUE(SplitNul("").empty());
}

TEST(FindEnvironValueTest, MatchesWholeNamesOnly) {
  using namespace std::string_literals;
  const std::string environ = "OTEL_SERVICE_NAME_EXTRA=no\0PATH=/bin\0OTEL_SERVICE_NAME=shop=1\0"s;
  EXPECT_EQ(FindEnvironValue(environ, "OTEL_SERVICE_NAME"), "shop=1");
  EXPECT_EQ(FindEnvironValue(environ, "PATH"), "/bin");
  EXPECT_EQ(FindEnvironValue(environ, "HOME"), std::nullopt);
  EXPECT_EQ(FindEnvironValue(environ, "OTEL_SERVICE"), std::nullopt);
}

TEST(ParsePidListTest, ReadsSpaceSeparatedPids) {
  EXPECT_THAT(ParsePidList("12 13 400 \n"), ElementsAre(12, 13, 400));
  EXPECT_TRUE(ParsePidList("").empty());
  EXPECT_THAT(ParsePidList("x 7 -3"), ElementsAre(7));
}

}  // namespace
}  // namespace weft::proc
