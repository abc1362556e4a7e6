#include <gtest/gtest.h>

#include "agent/cli/run_command.h"

namespace weft {
namespace {

TEST(ResolveNodeLinks, OffUnlessAsked) {
  auto off = ResolveNodeLinks("", nullptr);
  ASSERT_TRUE(off.ok());
  EXPECT_FALSE(*off);
  EXPECT_FALSE(*ResolveNodeLinks("none", nullptr));
  EXPECT_FALSE(*ResolveNodeLinks("", "none"));
}

TEST(ResolveNodeLinks, FlagOrEnvironmentTurnsItOn) {
  EXPECT_TRUE(*ResolveNodeLinks("inspector", nullptr));
  EXPECT_TRUE(*ResolveNodeLinks("", "inspector"));
}

TEST(ResolveNodeLinks, FlagWinsOverEnvironment) {
  EXPECT_FALSE(*ResolveNodeLinks("none", "inspector"));
  EXPECT_TRUE(*ResolveNodeLinks("inspector", "none"));
}

TEST(ResolveNodeLinks, UnknownModeSaysWhatIsAllowed) {
  auto bad = ResolveNodeLinks("", "ptrace");
  ASSERT_FALSE(bad.ok());
  EXPECT_NE(bad.status().message().find("WEFT_NODE_LINKS=ptrace"), absl::string_view::npos);
  EXPECT_NE(bad.status().message().find("inspector or none"), absl::string_view::npos);
}

}  // namespace
}  // namespace weft
