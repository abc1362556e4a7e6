#include "symbolizer/elf/elf_symbols.h"

#include <dlfcn.h>
#include <gtest/gtest.h>
#include <link.h>

#include <cstdio>
#include <cstring>
#include <fstream>
#include <string>

namespace weft::elf {
namespace {

// The fixture library exports these; their file offsets must be where the
// dynamic loader puts the code: load address + offset - the mapping's file
// offset, checked against dlsym.
TEST(FunctionFileOffsets, MatchesWhereTheLoaderMapsTheCode) {
  const std::string path = WEFT_SYMBOLS_FIXTURE;
  auto offsets = FunctionFileOffsets(path, {"weft_fixture_alpha", "weft_fixture_beta",
                                            "weft_fixture_missing", "weft_fixture_data"});
  ASSERT_TRUE(offsets.ok()) << offsets.status();
  EXPECT_EQ(offsets->count("weft_fixture_missing"), 0u);
  EXPECT_EQ(offsets->count("weft_fixture_data"), 0u) << "objects are not functions";
  ASSERT_EQ(offsets->count("weft_fixture_alpha"), 1u);
  ASSERT_EQ(offsets->count("weft_fixture_beta"), 1u);
  EXPECT_NE(offsets->at("weft_fixture_alpha"), offsets->at("weft_fixture_beta"));

  void* handle = dlopen(path.c_str(), RTLD_NOW);
  ASSERT_NE(handle, nullptr) << dlerror();
  for (const char* name : {"weft_fixture_alpha", "weft_fixture_beta"}) {
    auto code = reinterpret_cast<uintptr_t>(dlsym(handle, name));
    ASSERT_NE(code, 0u) << name;
    // Find the file mapping holding the code in /proc/self/maps.
    std::ifstream maps("/proc/self/maps");
    std::string line;
    bool checked = false;
    while (std::getline(maps, line)) {
      unsigned long start = 0, end = 0, offset = 0;
      char perms[8] = {};
      if (std::sscanf(line.c_str(), "%lx-%lx %7s %lx", &start, &end, perms, &offset) != 4) {
        continue;
      }
      if (code < start || code >= end) continue;
      EXPECT_NE(line.find(path.substr(path.rfind('/'))), std::string::npos) << line;
      EXPECT_EQ(offsets->at(name), code - start + offset) << name;
      checked = true;
    }
    EXPECT_TRUE(checked) << name;
  }
  dlclose(handle);
}

// Data and functions alike, local ones from .symtab, each at the address
// the loader puts it: load bias + st_value, checked against dlsym.
TEST(SymbolAddresses, FindsDataAndLocalSymbolsAtTheirLinkAddresses) {
  const std::string path = WEFT_SYMBOLS_FIXTURE;
  auto found = SymbolAddresses(path, {"weft_fixture_data", "weft_fixture_alpha",
                                      "weft_fixture_local", "weft_fixture_missing"});
  ASSERT_TRUE(found.ok()) << found.status();
  EXPECT_EQ(found->count("weft_fixture_missing"), 0u);
  ASSERT_EQ(found->count("weft_fixture_data"), 1u);
  ASSERT_EQ(found->count("weft_fixture_alpha"), 1u);
  ASSERT_EQ(found->count("weft_fixture_local"), 1u) << "a static variable is in .symtab";

  void* handle = dlopen(path.c_str(), RTLD_NOW);
  ASSERT_NE(handle, nullptr) << dlerror();
  link_map* map = nullptr;
  ASSERT_EQ(dlinfo(handle, RTLD_DI_LINKMAP, &map), 0);
  auto data = reinterpret_cast<uintptr_t>(dlsym(handle, "weft_fixture_data"));
  auto alpha = reinterpret_cast<uintptr_t>(dlsym(handle, "weft_fixture_alpha"));
  EXPECT_EQ(map->l_addr + found->at("weft_fixture_data"), data);
  EXPECT_EQ(map->l_addr + found->at("weft_fixture_alpha"), alpha);
  // The static array's first element is 1 and its last 4.
  const int* local = reinterpret_cast<const int*>(map->l_addr + found->at("weft_fixture_local"));
  EXPECT_EQ(local[0], 1);
  EXPECT_EQ(local[3], 4);
  dlclose(handle);
}

TEST(FunctionFileOffsets, MissingAndNonElfFiles) {
  EXPECT_EQ(FunctionFileOffsets("/nonexistent/libssl.so.3", {"SSL_read"}).status().code(),
            absl::StatusCode::kNotFound);
  EXPECT_EQ(FunctionFileOffsets("/proc/self/status", {"SSL_read"}).status().code(),
            absl::StatusCode::kInvalidArgument);
}

TEST(FunctionFileOffsets, SystemLibsslHasTheTlsFunctions) {
  const char* candidates[] = {"/usr/lib/x86_64-linux-gnu/libssl.so.3",
                              "/usr/lib/aarch64-linux-gnu/libssl.so.3"};
  for (const char* path : candidates) {
    std::ifstream exists(path);
    if (!exists) continue;
    auto offsets =
        FunctionFileOffsets(path, {"SSL_read", "SSL_write", "SSL_read_ex", "SSL_write_ex"});
    ASSERT_TRUE(offsets.ok()) << offsets.status();
    EXPECT_EQ(offsets->size(), 4u);
    return;
  }
  GTEST_SKIP() << "no libssl.so.3 on this machine";
}

}  // namespace
}  // namespace weft::elf
