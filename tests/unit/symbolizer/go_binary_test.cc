#include "symbolizer/elf/go_binary.h"

#include <fstream>

#include <gtest/gtest.h>

namespace weft::elf {
namespace {

// Paths of the fixtures CMake builds next to this test.
const std::filesystem::path kPlainElf = WEFT_PLAIN_ELF_FIXTURE;
const std::filesystem::path kGoLikeElf = WEFT_GO_ELF_FIXTURE;

TEST(IsGoBinaryTest, PlainCProgramIsNotGo) {
  absl::StatusOr<bool> is_go = IsGoBinary(kPlainElf);
  ASSERT_TRUE(is_go.ok()) << is_go.status();
  EXPECT_FALSE(*is_go);
}

TEST(IsGoBinaryTest, ProgramWithGoBuildInfoSectionIsGo) {
  absl::StatusOr<bool> is_go = IsGoBinary(kGoLikeElf);
  ASSERT_TRUE(is_go.ok()) << is_go.status();
  EXPECT_TRUE(*is_go);
}

TEST(IsGoBinaryTest, SystemSleepIsNotGo) {
  absl::StatusOr<bool> is_go = IsGoBinary("/bin/sleep");
  ASSERT_TRUE(is_go.ok()) << is_go.status();
  EXPECT_FALSE(*is_go);
}

TEST(IsGoBinaryTest, OwnExecutableThroughProcSelfExe) {
  absl::StatusOr<bool> is_go = IsGoBinary("/proc/self/exe");
  ASSERT_TRUE(is_go.ok()) << is_go.status();
  EXPECT_FALSE(*is_go);
}

TEST(IsGoBinaryTest, MissingFileIsNotFound) {
  EXPECT_TRUE(absl::IsNotFound(IsGoBinary("/nonexistent/weft/binary").status()));
}

TEST(IsGoBinaryTest, TextFileIsNotElf) {
  const std::filesystem::path path =
      std::filesystem::temp_directory_path() / ("weft-not-elf-" + std::to_string(::getpid()));
  std::ofstream(path) << "#!/bin/sh\necho hello\n";
  absl::StatusOr<bool> is_go = IsGoBinary(path);
  std::filesystem::remove(path);
  EXPECT_TRUE(absl::IsInvalidArgument(is_go.status())) << is_go.status();
}

}  // namespace
}  // namespace weft::elf
