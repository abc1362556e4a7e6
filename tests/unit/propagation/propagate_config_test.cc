// How propagation is turned on (flag over WEFT_PROPAGATE, default none) and
// where the sockops program attaches (the cgroup v2 mount).
#include "agent/cli/run_command.h"
#include "agent/probes/propagation_attach.h"
#include "gtest/gtest.h"

namespace weft {
namespace {

TEST(ResolvePropagateHeaders, DefaultsToNone) {
  auto on = ResolvePropagateHeaders("", nullptr);
  ASSERT_TRUE(on.ok());
  EXPECT_FALSE(*on);
}

TEST(ResolvePropagateHeaders, EnvironmentTurnsItOn) {
  auto on = ResolvePropagateHeaders("", "headers");
  ASSERT_TRUE(on.ok());
  EXPECT_TRUE(*on);
}

TEST(ResolvePropagateHeaders, FlagWinsOverEnvironment) {
  auto on = ResolvePropagateHeaders("none", "headers");
  ASSERT_TRUE(on.ok());
  EXPECT_FALSE(*on);
  on = ResolvePropagateHeaders("headers", "none");
  ASSERT_TRUE(on.ok());
  EXPECT_TRUE(*on);
}

TEST(ResolvePropagateHeaders, UnknownEnvironmentValueIsAnError) {
  auto on = ResolvePropagateHeaders("", "b3");
  EXPECT_FALSE(on.ok());
  EXPECT_EQ(on.status().code(), absl::StatusCode::kInvalidArgument);
}

constexpr char kHybrid[] =
    "25 1 0:23 / /sys rw,nosuid shared:7 - sysfs sysfs rw\n"
    "30 25 0:26 / /sys/fs/cgroup ro shared:9 - tmpfs tmpfs ro,mode=755\n"
    "31 30 0:27 / /sys/fs/cgroup/unified rw shared:10 - cgroup2 cgroup2 rw\n"
    "32 30 0:28 / /sys/fs/cgroup/cpu rw shared:11 - cgroup cgroup rw,cpu\n";

constexpr char kUnified[] =
    "40 1 0:30 /kubepods /host/cg rw - cgroup2 cgroup2 rw\n"
    "41 1 0:30 / /sys/fs/cgroup rw shared:4 - cgroup2 cgroup2 rw,nsdelegate\n";

TEST(FindCgroup2Mount, HybridHierarchyUsesTheUnifiedMount) {
  auto mount = FindCgroup2Mount(kHybrid);
  ASSERT_TRUE(mount.ok());
  EXPECT_EQ(*mount, "/sys/fs/cgroup/unified");
}

TEST(FindCgroup2Mount, PrefersTheRootMountOverABindOfASubCgroup) {
  auto mount = FindCgroup2Mount(kUnified);
  ASSERT_TRUE(mount.ok());
  EXPECT_EQ(*mount, "/sys/fs/cgroup");
}

TEST(FindCgroup2Mount, NoCgroup2IsAnError) {
  auto mount = FindCgroup2Mount("25 1 0:23 / /sys rw - sysfs sysfs rw\n");
  EXPECT_FALSE(mount.ok());
  EXPECT_EQ(mount.status().code(), absl::StatusCode::kFailedPrecondition);
}

}  // namespace
}  // namespace weft
