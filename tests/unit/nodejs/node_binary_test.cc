// ReadNodeBinary on the machine's Node.js (when installed) and on files that
// are not Node.js.
#include "symbolizer/elf/node_binary.h"

#include <gtest/gtest.h>

#include <filesystem>

#include "symbolizer/elf/elf_symbols.h"
#include "symbolizer/elf/x86_decode.h"

namespace weft::elf {
namespace {

TEST(ReadNodeBinary, OtherProgramsAreNotNode) {
  auto self = ReadNodeBinary("/proc/self/exe");
  EXPECT_EQ(self.status().code(), absl::StatusCode::kNotFound) << self.status();
  EXPECT_EQ(ReadNodeBinary("/nonexistent/node").status().code(), absl::StatusCode::kNotFound);
  EXPECT_EQ(ReadNodeBinary("/proc/self/status").status().code(),
            absl::StatusCode::kInvalidArgument);
}

// uv_fs_access's start in Node 20.20's build: test rsi,rsi; je rel32 (the
// path argument, RDX, untouched): the probe goes on the je.
TEST(FirstBranchKeeping, RdxAtAFunctionStart) {
  const std::string_view code("\x48\x85\xf6\x0f\x84\xd3\x00\x00\x00\x55", 10);
  EXPECT_EQ(FirstBranchKeeping(code, 0x1000, KeptRegister::kRdx), std::optional<uint64_t>(0x1003));
  // mov rdi, rdx reads RDX: still kept.
  const std::string_view copies("\x48\x89\xd7\x74\x05", 5);
  EXPECT_EQ(FirstBranchKeeping(copies, 0x2000, KeptRegister::kRdx),
            std::optional<uint64_t>(0x2003));
  // xor edx, edx before the branch: the path is gone there.
  const std::string_view clears("\x31\xd2\x74\x05", 4);
  EXPECT_FALSE(FirstBranchKeeping(clears, 0x3000, KeptRegister::kRdx).has_value());
  // ...which RAX does not care about.
  EXPECT_EQ(FirstBranchKeeping(clears, 0x3000, KeptRegister::kRax),
            std::optional<uint64_t>(0x3002));
}

TEST(ReadNodeBinary, TheMachinesNode) {
  const std::filesystem::path node = "/usr/bin/node";
  if (!std::filesystem::exists(node)) GTEST_SKIP() << "no /usr/bin/node on this machine";
  auto binary = ReadNodeBinary(node);
  ASSERT_TRUE(binary.ok()) << binary.status();
  auto offsets = FunctionFileOffsets(node, {"uv_fs_access"});
  ASSERT_TRUE(offsets.ok());
  EXPECT_EQ(binary->fs_access_offset, offsets->at("uv_fs_access"));
  // The probe sits on a branch within the function's first bytes.
  EXPECT_GE(binary->probe_offset, binary->fs_access_offset);
  EXPECT_LT(binary->probe_offset, binary->fs_access_offset + 64);
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
