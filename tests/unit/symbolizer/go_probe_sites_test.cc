#include "symbolizer/elf/go_probe_sites.h"

#include <cstring>
#include <fstream>
#include <iterator>
#include <string>

#include <gtest/gtest.h>

#include "symbolizer/elf/go_pclntab.h"

namespace weft::elf {
namespace {

void PutUint(std::string& out, size_t at, uint64_t value, size_t width) {
  if (out.size() < at + width) out.resize(at + width, '\0');
  for (size_t i = 0; i < width; ++i) out[at + i] = static_cast<char>(value >> (8 * i));
}

std::string Call(uint64_t at, uint64_t target) {
  std::string bytes(5, '\0');
  bytes[0] = static_cast<char>(0xe8);
  const int32_t displacement = static_cast<int32_t>(target - (at + 5));
  std::memcpy(bytes.data() + 1, &displacement, 4);
  return bytes;
}

TEST(CallOffsetsTest, FindsEachCallToTheCallee) {
  const uint64_t base = 0x401000;
  std::string code = "\x90\x90";
  code += Call(base + code.size(), 0x402000);  // the callee
  code += "\x90";
  code += Call(base + code.size(), 0x403000);  // another function
  const uint64_t last = code.size();
  code += Call(base + code.size(), 0x402000);
  auto offsets = CallOffsets(code, base, 0x1000, 0x402000);
  ASSERT_EQ(offsets.size(), 2u);
  EXPECT_EQ(offsets[0], 0x1000u + 2);
  EXPECT_EQ(offsets[1], 0x1000u + last);
}

TEST(CallOffsetsTest, ACallCutByTheEndOfTheCodeIsNotOne) {
  std::string code = Call(0x401000, 0x402000);
  EXPECT_TRUE(CallOffsets(code.substr(0, 4), 0x401000, 0, 0x402000).empty());
}

// A Go 1.18-layout table: header, names, then the function table.
std::string SyntheticPclntab() {
  std::string t(8, '\0');
  PutUint(t, 0, 0xfffffff0, 4);
  t[6] = 1;  // minLC
  t[7] = 8;  // pointer size
  const size_t names = 0x60, functions = 0x100;
  PutUint(t, 8, 2, 8);           // nfunc
  PutUint(t, 24, 0x401000, 8);   // textStart
  PutUint(t, 32, names, 8);      // funcnameOffset
  PutUint(t, 64, functions, 8);  // pclnOffset
  const std::string first = "main.main", second = "runtime.newproc1";
  t.resize(names);
  t += first + '\0' + second + '\0';
  t.resize(functions, '\0');
  // (entry offset, _func offset) x2 and the end entry, then two _func heads.
  PutUint(t, functions + 0, 0x0, 4);
  PutUint(t, functions + 4, 0x40, 4);
  PutUint(t, functions + 8, 0x80, 4);
  PutUint(t, functions + 12, 0x48, 4);
  PutUint(t, functions + 16, 0xc0, 4);
  PutUint(t, functions + 0x40, 0x0, 4);
  PutUint(t, functions + 0x44, 0, 4);
  PutUint(t, functions + 0x48, 0x80, 4);
  PutUint(t, functions + 0x4c, first.size() + 1, 4);
  return t;
}

TEST(GoPclntabFunctionsTest, FindsEntriesAndSizesByName) {
  auto found = GoPclntabFunctions(SyntheticPclntab(), {"runtime.newproc1", "net/http.absent"});
  ASSERT_TRUE(found.ok()) << found.status();
  ASSERT_EQ(found->size(), 1u);
  const GoFunction& f = found->at("runtime.newproc1");
  EXPECT_EQ(f.address, 0x401080u);
  EXPECT_EQ(f.size, 0x40u);
}

TEST(GoPclntabFunctionsTest, OlderOrForeignTablesAreUnsupported) {
  std::string table = SyntheticPclntab();
  PutUint(table, 0, 0xfffffffa, 4);  // Go 1.16's magic
  EXPECT_TRUE(absl::IsUnimplemented(GoPclntabFunctions(table, {"main.main"}).status()));
  EXPECT_FALSE(GoPclntabFunctions("", {"main.main"}).ok());
}

TEST(FindGoProbeSitesTest, NonGoProgramHasNoSites) {
  auto sites = FindGoProbeSites("/bin/sleep");
  EXPECT_FALSE(sites.ok());
}

#ifdef WEFT_GO_PROGRAM
std::string ReadAll(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}

TEST(FindGoProbeSitesTest, NetHttpProgramHasEverySite) {
  auto sites = FindGoProbeSites(WEFT_GO_PROGRAM);
  ASSERT_TRUE(sites.ok()) << sites.status();
  EXPECT_EQ(sites->symbols_from, "symtab");
  EXPECT_TRUE(sites->has_http_handoff());
  EXPECT_TRUE(sites->has_goroutine_ancestry());
  EXPECT_EQ(sites->g_tls_offset, -8);  // internally linked, no cgo
  // Every site is a call instruction in the file.
  const std::string file = ReadAll(WEFT_GO_PROGRAM);
  for (auto site : {sites->newproc1_call, sites->runqput_call, sites->round_trip_call,
                    sites->request_write_call}) {
    ASSERT_LT(*site, file.size());
    EXPECT_EQ(static_cast<uint8_t>(file[*site]), 0xe8);
  }
}

TEST(FindGoProbeSitesTest, StrippedProgramFindsTheSameSitesInPclntab) {
  auto plain = FindGoProbeSites(WEFT_GO_PROGRAM);
  auto stripped = FindGoProbeSites(std::string(WEFT_GO_PROGRAM) + "-stripped");
  ASSERT_TRUE(plain.ok()) << plain.status();
  ASSERT_TRUE(stripped.ok()) << stripped.status();
  EXPECT_EQ(stripped->symbols_from, "pclntab");
  // -s -w drops symbols and DWARF, not code: the layout is the same.
  EXPECT_EQ(stripped->newproc1_call, plain->newproc1_call);
  EXPECT_EQ(stripped->runqput_call, plain->runqput_call);
  EXPECT_EQ(stripped->round_trip_call, plain->round_trip_call);
  EXPECT_EQ(stripped->request_write_call, plain->request_write_call);
}
#endif

}  // namespace
}  // namespace weft::elf
