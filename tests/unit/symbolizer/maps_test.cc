#include "symbolizer/proc/maps.h"

#include <gtest/gtest.h>

namespace weft::proc {
namespace {

constexpr char kMaps[] =
    "55d0c0a00000-55d0c0a01000 r--p 00000000 fd:01 131090                     /usr/bin/python3.11\n"
    "7f1c2a000000-7f1c2a021000 rw-p 00000000 00:00 0 \n"
    "7f1c2b100000-7f1c2b11f000 r--p 00000000 fd:01 262301                     "
    "/usr/lib/x86_64-linux-gnu/libssl.so.3\n"
    "7f1c2b11f000-7f1c2b17a000 r-xp 0001f000 fd:01 262301                     "
    "/usr/lib/x86_64-linux-gnu/libssl.so.3\n"
    "7f1c2b200000-7f1c2b210000 r-xp 00000000 fd:01 262999                     "
    "/usr/lib/x86_64-linux-gnu/libssl3.so\n"
    "7f1c2b300000-7f1c2b310000 r-xp 00000000 103:02 77                        "
    "/opt/app/lib/libssl.so.1.1\n"
    "7f1c2b400000-7f1c2b410000 r-xp 00000000 fd:01 88                         "
    "/tmp/libssl.so.3 (deleted)\n"
    "7ffd1e5e6000-7ffd1e607000 rw-p 00000000 00:00 0                          [stack]\n"
    "not a maps line\n";

TEST(ParseMaps, ReadsEveryFieldAndSkipsMalformedLines) {
  auto maps = ParseMaps(kMaps);
  ASSERT_EQ(maps.size(), 8u);
  EXPECT_EQ(maps[0].start, 0x55d0c0a00000u);
  EXPECT_EQ(maps[0].end, 0x55d0c0a01000u);
  EXPECT_EQ(maps[0].perms, "r--p");
  EXPECT_EQ(maps[0].file.dev_major, 0xfdu);
  EXPECT_EQ(maps[0].file.dev_minor, 1u);
  EXPECT_EQ(maps[0].file.inode, 131090u);
  EXPECT_EQ(maps[0].path, "/usr/bin/python3.11");
  EXPECT_EQ(maps[1].path, "");
  EXPECT_EQ(maps[1].file.inode, 0u);
  EXPECT_EQ(maps[3].offset, 0x1f000u);
  EXPECT_EQ(maps[5].file.dev_major, 0x103u);
  EXPECT_EQ(maps[5].file.dev_minor, 2u);
  EXPECT_EQ(maps[6].path, "/tmp/libssl.so.3 (deleted)");
  EXPECT_EQ(maps[7].path, "[stack]");
}

TEST(IsLibsslName, OpenSslOnly) {
  EXPECT_TRUE(IsLibsslName("/usr/lib/x86_64-linux-gnu/libssl.so.3"));
  EXPECT_TRUE(IsLibsslName("/lib/libssl.so.1.1"));
  EXPECT_TRUE(IsLibsslName("libssl.so"));
  EXPECT_FALSE(IsLibsslName("/usr/lib/x86_64-linux-gnu/libssl3.so"));  // NSS
  EXPECT_FALSE(IsLibsslName("/usr/lib/libcrypto.so.3"));
  EXPECT_FALSE(IsLibsslName("/opt/libssl.so.3/python3"));
}

TEST(FindLibssl, OneEntryPerFileNoDeletedFiles) {
  auto found = FindLibssl(ParseMaps(kMaps));
  ASSERT_EQ(found.size(), 2u);
  EXPECT_EQ(found[0].path, "/usr/lib/x86_64-linux-gnu/libssl.so.3");
  EXPECT_EQ(found[0].file.inode, 262301u);
  EXPECT_EQ(found[1].path, "/opt/app/lib/libssl.so.1.1");
}

TEST(FindLibssl, SameFileUnderTwoPathsIsOneFile) {
  auto found = FindLibssl(ParseMaps(
      "7f0000000000-7f0000001000 r-xp 00000000 fd:01 5 /lib/x86_64-linux-gnu/libssl.so.3\n"
      "7f0000100000-7f0000101000 r-xp 00000000 fd:01 5 /usr/lib/x86_64-linux-gnu/libssl.so.3\n"));
  EXPECT_EQ(found.size(), 1u);
}

}  // namespace
}  // namespace weft::proc
