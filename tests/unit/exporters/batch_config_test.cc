#include "exporters/batch_config.h"

#include <map>

#include <gtest/gtest.h>

namespace weft {
namespace {

EnvLookup FakeEnv(std::map<std::string, std::string> vars) {
  return [vars = std::move(vars)](const std::string& name) -> std::optional<std::string> {
    auto it = vars.find(name);
    if (it == vars.end()) return std::nullopt;
    return it->second;
  };
}

TEST(BatchConfig, SpecDefaults) {
  absl::StatusOr<BatchConfig> config = BatchConfig::FromEnvironment(FakeEnv({}));
  ASSERT_TRUE(config.ok());
  EXPECT_EQ(config->schedule_delay, absl::Milliseconds(5000));
  EXPECT_EQ(config->export_timeout, absl::Milliseconds(30000));
  EXPECT_EQ(config->max_queue_size, 65536u);
  EXPECT_EQ(config->max_export_batch_size, 512u);
}

TEST(BatchConfig, BatchMayEqualQueue) {
  auto config = BatchConfig::FromEnvironment(
      FakeEnv({{"OTEL_BSP_MAX_QUEUE_SIZE", "64"}, {"OTEL_BSP_MAX_EXPORT_BATCH_SIZE", "64"}}));
  ASSERT_TRUE(config.ok());
  EXPECT_EQ(config->max_export_batch_size, 64u);
}

TEST(BatchConfig, ZeroQueueIsRejected) {
  auto config = BatchConfig::FromEnvironment(FakeEnv({{"OTEL_BSP_MAX_QUEUE_SIZE", "0"}}));
  ASSERT_FALSE(config.ok());
  EXPECT_NE(config.status().message().find("OTEL_BSP_MAX_QUEUE_SIZE"), absl::string_view::npos);
}

TEST(ParseBoolEnv, AcceptsOnlyTrueAndFalse) {
  auto env = FakeEnv({{"A", "TRUE"}, {"B", " false "}, {"C", "1"}});
  EXPECT_EQ(**ParseBoolEnv(env, "A"), true);
  EXPECT_EQ(**ParseBoolEnv(env, "B"), false);
  EXPECT_FALSE(ParseBoolEnv(env, "C").ok());
  EXPECT_FALSE(ParseBoolEnv(env, "D")->has_value());
}

}  // namespace
}  // namespace weft
