#include "agent/probes/tls_probe_points.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>

#include "symbolizer/elf/elf_symbols.h"

namespace weft {
namespace {

// `call rel32` at file offset `at` to file offset `target`.
void PutCall(std::vector<uint8_t>& file, uint64_t at, uint64_t target) {
  int32_t rel = static_cast<int32_t>(static_cast<int64_t>(target) - static_cast<int64_t>(at + 5));
  file[at] = 0xe8;
  std::memcpy(&file[at + 1], &rel, sizeof(rel));
}

void PutBytes(std::vector<uint8_t>& file, uint64_t at, std::vector<uint8_t> bytes) {
  std::copy(bytes.begin(), bytes.end(), file.begin() + static_cast<std::ptrdiff_t>(at));
}

const std::vector<uint8_t> kSubRsp = {0x48, 0x83, 0xec, 0x18};  // sub $0x18,%rsp
const std::vector<uint8_t> kPushR13 = {0x41, 0x55};             // push %r13
const std::vector<uint8_t> kEndbr64 = {0xf3, 0x0f, 0x1e, 0xfa};

TEST(CallTargets, FindsRel32CallsForwardAndBackward) {
  std::vector<uint8_t> file(0x300, 0x90);
  PutCall(file, 0x204, 0x100);
  PutCall(file, 0x210, 0x2f0);
  CodeBytes code{0x200, std::vector<uint8_t>(file.begin() + 0x200, file.begin() + 0x240)};
  EXPECT_EQ(CallTargets(code), (std::vector<uint64_t>{0x100, 0x2f0}));
}

TEST(CommonFirstCallee, SharedInternalFunction) {
  // The OpenSSL 3 layout: SSL_read_ex calls first, SSL_read after its checks.
  std::vector<uint8_t> file(0x600, 0x90);
  PutBytes(file, 0x100, kSubRsp);
  PutCall(file, 0x11e, 0x400);  // SSL_read
  PutBytes(file, 0x200, kSubRsp);
  PutCall(file, 0x204, 0x400);  // SSL_read_ex
  PutCall(file, 0x220, 0x500);  // a later, unrelated call
  CodeBytes plain{0x100, std::vector<uint8_t>(file.begin() + 0x100, file.begin() + 0x140)};
  CodeBytes ex{0x200, std::vector<uint8_t>(file.begin() + 0x200, file.begin() + 0x240)};
  EXPECT_EQ(CommonFirstCallee(ex, plain), 0x400u);
}

TEST(CommonFirstCallee, NothingWhenTheWrappersCallDifferentFunctions) {
  std::vector<uint8_t> file(0x600, 0x90);
  PutCall(file, 0x104, 0x400);
  PutCall(file, 0x204, 0x500);
  CodeBytes plain{0x100, std::vector<uint8_t>(file.begin() + 0x100, file.begin() + 0x140)};
  CodeBytes ex{0x200, std::vector<uint8_t>(file.begin() + 0x200, file.begin() + 0x240)};
  EXPECT_EQ(CommonFirstCallee(ex, plain), std::nullopt);
  CodeBytes no_call{0x300, std::vector<uint8_t>(16, 0x90)};
  EXPECT_EQ(CommonFirstCallee(no_call, plain), std::nullopt);
}

TEST(PrologueProbeOffset, PushOrEndbrThenPush) {
  EXPECT_EQ(PrologueProbeOffset({0x40, kPushR13}), 0x40u);
  EXPECT_EQ(PrologueProbeOffset({0x40, {0x55, 0x48}}), 0x40u);  // push %rbp
  std::vector<uint8_t> endbr_push = kEndbr64;
  endbr_push.insert(endbr_push.end(), kPushR13.begin(), kPushR13.end());
  EXPECT_EQ(PrologueProbeOffset({0x40, endbr_push}), 0x44u);
  EXPECT_EQ(PrologueProbeOffset({0x40, kSubRsp}), std::nullopt);
  EXPECT_EQ(PrologueProbeOffset({0x40, kEndbr64}), std::nullopt);
}

class ProbePointsFile : public ::testing::Test {
 protected:
  void TearDown() override { std::filesystem::remove(path_); }
  std::string Write(const std::vector<uint8_t>& content) {
    path_ = std::filesystem::temp_directory_path() /
            ("weft_probe_points_" + std::to_string(getpid()) + ".bin");
    std::ofstream out(path_, std::ios::binary);
    out.write(reinterpret_cast<const char*>(content.data()),
              static_cast<std::streamsize>(content.size()));
    return path_.string();
  }
  std::filesystem::path path_;
};

TEST_F(ProbePointsFile, InternalFunctionForReadsPublicWrappersForWrites) {
  std::vector<uint8_t> file(0x800, 0x90);
  PutBytes(file, 0x100, kSubRsp);  // SSL_read -> 0x400
  PutCall(file, 0x11e, 0x400);
  PutBytes(file, 0x200, kSubRsp);  // SSL_read_ex -> 0x400
  PutCall(file, 0x204, 0x400);
  PutBytes(file, 0x400, kPushR13);  // ssl_read_internal
  PutBytes(file, 0x500, kSubRsp);   // SSL_write -> 0x700 (no push there)
  PutCall(file, 0x51e, 0x700);
  PutBytes(file, 0x600, kEndbr64);  // SSL_write_ex -> 0x700
  PutBytes(file, 0x604, kPushR13);
  PutCall(file, 0x606, 0x700);
  PutBytes(file, 0x700, kSubRsp);
  std::string path = Write(file);
  auto points = FindSslProbePoints(
      path,
      {{"SSL_read", 0x100}, {"SSL_read_ex", 0x200}, {"SSL_write", 0x500}, {"SSL_write_ex", 0x600}});
  ASSERT_TRUE(points.ok()) << points.status();
  ASSERT_EQ(points->size(), 3u);
  EXPECT_EQ((*points)[0].offset, 0x400u);
  EXPECT_EQ((*points)[0].kind, SslCallKind::kReadEx);
  // The internal write function does not start with a push: the wrappers,
  // SSL_write_ex past its endbr64.
  EXPECT_EQ((*points)[1].offset, 0x500u);
  EXPECT_EQ((*points)[1].kind, SslCallKind::kWrite);
  EXPECT_EQ((*points)[2].offset, 0x604u);
  EXPECT_EQ((*points)[2].kind, SslCallKind::kWriteEx);
}

TEST_F(ProbePointsFile, OnlyPlainFunctions) {
  std::vector<uint8_t> file(0x300, 0x90);
  PutBytes(file, 0x100, kPushR13);
  std::string path = Write(file);
  auto points = FindSslProbePoints(path, {{"SSL_read", 0x100}, {"SSL_write", 0x200}});
  ASSERT_TRUE(points.ok()) << points.status();
  ASSERT_EQ(points->size(), 2u);
  EXPECT_EQ((*points)[0].kind, SslCallKind::kRead);
  EXPECT_EQ((*points)[1].kind, SslCallKind::kWrite);
}

TEST(ProbePoints, MissingFileIsAnError) {
  EXPECT_FALSE(FindSslProbePoints("/nonexistent/libssl.so.3", {{"SSL_read", 0}}).ok());
}

// The machine's own OpenSSL, when there is one: both directions resolve to
// a function starting with a register push.
TEST(ProbePoints, SystemLibssl) {
  const std::string path = "/usr/lib/x86_64-linux-gnu/libssl.so.3";
  if (!std::filesystem::exists(path)) GTEST_SKIP() << path << " not installed";
  auto offsets =
      elf::FunctionFileOffsets(path, {"SSL_read", "SSL_read_ex", "SSL_write", "SSL_write_ex"});
  ASSERT_TRUE(offsets.ok()) << offsets.status();
  auto points = FindSslProbePoints(path, *offsets);
  ASSERT_TRUE(points.ok()) << points.status();
  ASSERT_FALSE(points->empty());
  for (const SslProbePoint& point : *points) {
    std::ifstream in(path, std::ios::binary);
    in.seekg(static_cast<std::streamoff>(point.offset));
    uint8_t first[2] = {};
    in.read(reinterpret_cast<char*>(first), 2);
    bool push = (first[0] >= 0x50 && first[0] <= 0x57) ||
                (first[0] == 0x41 && first[1] >= 0x50 && first[1] <= 0x57);
    EXPECT_TRUE(push) << point.name << " at " << point.offset;
  }
}

}  // namespace
}  // namespace weft
