// CPython facts for asyncio context links: the x86 site chooser on byte
// fixtures, the offsets table against the installed CPython headers, and the
// interpreter and _asyncio module of this machine when they are installed.
#include <cstddef>
#include <filesystem>
#include <string>

#include "gtest/gtest.h"
#include "symbolizer/elf/cpython.h"
#include "symbolizer/elf/x86_decode.h"

#ifdef WEFT_CPYTHON_INTERNAL_HEADERS
extern "C" const int weft_cpython_header_minor;
extern "C" const size_t weft_cpython_header_offsets[6];
#endif

namespace weft::elf {
namespace {

std::string Bytes(std::initializer_list<uint8_t> bytes) {
  return std::string(bytes.begin(), bytes.end());
}

TEST(FirstBranchKeepingRax, SkipsInstructionsThatOnlyReadRax) {
  // mov %rax,0x98(%rbx); test %r15,%r15; jne +0x10
  const std::string code =
      Bytes({0x48, 0x89, 0x83, 0x98, 0x00, 0x00, 0x00, 0x4d, 0x85, 0xff, 0x75, 0x10});
  auto site = FirstBranchKeepingRax(code, 0x1000);
  ASSERT_TRUE(site.has_value());
  EXPECT_EQ(*site, 0x100au);
}

TEST(FirstBranchKeepingRax, RelativeCallCounts) {
  // mov %rax,%rbp; call +0
  const std::string code = Bytes({0x48, 0x89, 0xc5, 0xe8, 0x00, 0x00, 0x00, 0x00});
  EXPECT_EQ(FirstBranchKeepingRax(code, 0x2000), std::optional<uint64_t>(0x2003));
}

TEST(FirstBranchKeepingRax, NothingWhenRaxIsOverwrittenFirst) {
  // mov $1,%eax; jne +0x10
  const std::string code = Bytes({0xb8, 0x01, 0x00, 0x00, 0x00, 0x75, 0x10});
  EXPECT_FALSE(FirstBranchKeepingRax(code, 0x1000).has_value());
}

TEST(FirstBranchKeepingRax, NothingAcrossReturnsOrIndirectJumps) {
  EXPECT_FALSE(FirstBranchKeepingRax(Bytes({0xc3, 0x75, 0x10}), 0x1000).has_value());
  EXPECT_FALSE(FirstBranchKeepingRax(Bytes({0xff, 0xe3, 0x75, 0x10}), 0x1000).has_value());
  EXPECT_FALSE(FirstBranchKeepingRax(Bytes({0x90, 0x90}), 0x1000).has_value());
}

TEST(CPythonOffsets, KnownOnlyFor311) {
  EXPECT_TRUE(CPythonOffsetsFor(3, 11).has_value());
  EXPECT_FALSE(CPythonOffsetsFor(3, 10).has_value());
  EXPECT_FALSE(CPythonOffsetsFor(3, 12).has_value());
}

TEST(CPythonOffsets, PyVersionHexDecodes) {
  CPythonBinary binary;
  DecodePyVersionHex(0x030B02F0, &binary);
  EXPECT_EQ(binary.version(), "3.11.2");
}

#ifdef WEFT_CPYTHON_INTERNAL_HEADERS
TEST(CPythonOffsets, MatchTheInstalledHeaders) {
  ASSERT_EQ(weft_cpython_header_minor, 11);
  auto offsets = CPythonOffsetsFor(3, weft_cpython_header_minor);
  ASSERT_TRUE(offsets.has_value());
  const size_t* headers = weft_cpython_header_offsets;
  EXPECT_EQ(offsets->interpreters_head, headers[0]);
  EXPECT_EQ(offsets->tstate_current, headers[1]);
  EXPECT_EQ(offsets->threads_head, headers[2]);
  EXPECT_EQ(offsets->tstate_next, headers[3]);
  EXPECT_EQ(offsets->tstate_native_tid, headers[4]);
  EXPECT_EQ(offsets->tstate_context, headers[5]);
}
#endif

TEST(CPythonBinary, ThisMachinesInterpreterAndAsyncioModule) {
  const std::filesystem::path python = "/usr/bin/python3.11";
  const std::filesystem::path module =
      "/usr/lib/python3.11/lib-dynload/_asyncio.cpython-311-x86_64-linux-gnu.so";
  if (!std::filesystem::exists(python) || !std::filesystem::exists(module)) {
    GTEST_SKIP() << "Debian's python3.11 is not installed here";
  }
  auto binary = ReadCPythonBinary(python);
  ASSERT_TRUE(binary.ok()) << binary.status();
  EXPECT_EQ(binary->major, 3);
  EXPECT_EQ(binary->minor, 11);
  EXPECT_NE(binary->runtime_vaddr, 0u);
  EXPECT_NE(binary->copy_context_offset, 0u);
  // Task creation and add_done_callback's two paths.
  auto sites = FindContextCopySites(module);
  ASSERT_TRUE(sites.ok()) << sites.status();
  EXPECT_GE(sites->size(), 1u);
  EXPECT_TRUE(IsAsyncioModuleName(module.string()));
  EXPECT_FALSE(IsAsyncioModuleName("/usr/lib/libasyncio.so"));
  // The module is not an interpreter.
  EXPECT_EQ(ReadCPythonBinary(module).status().code(), absl::StatusCode::kNotFound);
}

}  // namespace
}  // namespace weft::elf
