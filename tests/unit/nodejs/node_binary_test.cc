// ReadNodeBinary on the machine's Node.js (when installed) and on files that
// are not Node.js.
#include "symbolizer/elf/node_binary.h"

#include <gtest/gtest.h>

#include <filesystem>

#include "symbolizer/elf/elf_symbols.h"

namespace weft::elf {
namespace {

TEST(ReadNodeBinary, OtherProgramsAreNotNode) {
  auto self = ReadNodeBinary("/proc/self/exe");
  EXPECT_EQ(self.status().code(), absl::StatusCode::kNotFound) << self.status();
  EXPECT_EQ(ReadNodeBinary("/nonexistent/node").status().code(), absl::StatusCode::kNotFound);
  EXPECT_EQ(ReadNodeBinary("/proc/self/status").status().code(),
            absl::StatusCode::kInvalidArgument);
}

TEST(ReadNodeBinary, TheMachinesNode) {
  const std::filesystem::path node = "/usr/bin/node";
  if (!std::filesystem::exists(node)) GTEST_SKIP() << "no /usr/bin/node on this machine";
  auto binary = ReadNodeBinary(node);
  ASSERT_TRUE(binary.ok()) << binary.status();
  auto offsets = FunctionFileOffsets(node, {"uv_fs_access"});
  ASSERT_TRUE(offsets.ok());
  EXPECT_EQ(binary->fs_access_offset, offsets->at("uv_fs_access"));
  // The machine's build keeps its symbol table: the signal tree is found.
  auto symbols = SymbolAddresses(node, {"uv__signal_tree"});
  ASSERT_TRUE(symbols.ok());
  if (symbols->count("uv__signal_tree")) {
    ASSERT_TRUE(binary->signal_tree_vaddr.has_value());
    EXPECT_EQ(*binary->signal_tree_vaddr, symbols->at("uv__signal_tree"));
  }
}

}  // namespace
}  // namespace weft::elf
