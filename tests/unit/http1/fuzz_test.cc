// Fuzz-ish robustness: random bytes, mutated messages, random splits, losses
// and truncation. Nothing may crash; what is dropped must be counted; every
// exchange that comes out must still be made of parsed fields.
#include <gtest/gtest.h>
#include <llhttp.h>

#include <cstdlib>
#include <random>
#include <string>
#include <vector>

#include "agent/spans/span_builder.h"
#include "tests/unit/http1/http1_harness.h"

namespace weft::testing {
namespace {

const std::vector<std::string> kRequests = {
    "GET /a/1?x=y HTTP/1.1\r\nHost: h\r\nUser-Agent: u\r\n\r\n",
    "POST /p HTTP/1.1\r\nHost: h\r\nContent-Length: 11\r\n\r\nhello world",
    "PUT /c HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n3;e=1\r\nabc\r\n0\r\nT: 1\r\n\r\n",
    "HEAD / HTTP/1.0\r\n\r\n",
    "GET /u HTTP/1.1\r\nUpgrade: websocket\r\nConnection: upgrade\r\n\r\n",
};
const std::vector<std::string> kResponses = {
    "HTTP/1.1 200 OK\r\nContent-Length: 3\r\n\r\nabc",
    "HTTP/1.1 204 No Content\r\n\r\n",
    "HTTP/1.1 100 Continue\r\n\r\n",
    "HTTP/1.1 500 E\r\nTransfer-Encoding: chunked\r\n\r\n2\r\nok\r\n0\r\n\r\n",
    "HTTP/1.1 404 NF\r\nContent-Length: 0\r\n\r\n",
};

std::string Mutate(std::string s, std::mt19937& rng) {
  int edits = static_cast<int>(rng() % 4);
  for (int i = 0; i < edits && !s.empty(); ++i) {
    size_t at = rng() % s.size();
    switch (rng() % 3) {
      case 0:
        s[at] = static_cast<char>(rng());
        break;
      case 1:
        s.erase(at, 1 + rng() % 8);
        break;
      default:
        s.insert(at, std::string(1 + rng() % 4, static_cast<char>(rng())));
        break;
    }
  }
  return s;
}

// WEFT_FUZZ_ROUNDS scales the rounds for long local runs (e.g. under ASan).
int Rounds(int fallback) {
  const char* env = std::getenv("WEFT_FUZZ_ROUNDS");
  int n = env != nullptr ? std::atoi(env) : 0;
  return n > 0 ? n : fallback;
}

void CheckExchange(const http1::HttpExchange& e) {
  EXPECT_FALSE(e.request.placeholder);
  EXPECT_TRUE(e.request.context.valid());
  if (e.has_response) {
    EXPECT_GE(e.response.status_code, 100);
    EXPECT_LE(e.response.status_code, 999);
  }
  Span span = BuildHttpSpan(e, {}, nullptr, 0);
  EXPECT_FALSE(span.name.empty());
}

TEST(Http1Fuzz, RandomBytesNeverCrashAndAreCounted) {
  std::mt19937 rng(1234);
  for (int round = 0, rounds = Rounds(200); round < rounds; ++round) {
    TrackerOptions options;
    options.http.non_http_scan_limit = 1 + rng() % 8192;
    options.http.max_head_bytes = 64 + rng() % 4096;
    Harness h(static_cast<Role>(rng() % 3), options);
    for (int i = 0; i < 30; ++i) {
      std::string bytes(rng() % 300, '\0');
      for (char& c : bytes)
        c = static_cast<char>(rng() % 4 == 0 ? "GET /HTP1.\r\n :"[rng() % 15] : rng());
      h.Data(rng() % 2 ? Direction::kEgress : Direction::kIngress, bytes);
    }
    h.Close(rng() % 2);
    const auto& s = h.http_stats();
    EXPECT_GT(s.resync_bytes_skipped + s.parse_errors + s.non_http_streams + s.requests, 0u);
    for (const auto& e : h.exchanges) CheckExchange(e);
  }
}

TEST(Http1Fuzz, MutatedMessagesRandomSplitsAndLosses) {
  std::mt19937 rng(99);
  uint64_t total_exchanges = 0, total_errors = 0, total_gaps = 0;
  for (int round = 0, rounds = Rounds(300); round < rounds; ++round) {
    Harness h(rng() % 4 == 0 ? Role::kUnknown : Role::kServer);
    for (int i = 0; i < 20; ++i) {
      bool request = rng() % 2;
      std::string msg =
          request ? kRequests[rng() % kRequests.size()] : kResponses[rng() % kResponses.size()];
      if (rng() % 3 == 0) msg = Mutate(msg, rng);
      Direction dir = request ? h.RequestDir() : h.ResponseDir();
      size_t pos = 0;
      while (pos < msg.size()) {
        size_t n = 1 + rng() % (msg.size() - pos);
        std::string_view piece = std::string_view(msg).substr(pos, n);
        switch (rng() % 10) {
          case 0:
            h.Lose(dir, static_cast<uint32_t>(n));
            break;
          case 1:
            h.Data(dir, piece.substr(0, rng() % (n + 1)), static_cast<uint32_t>(n));
            break;
          default:
            h.Data(dir, piece);
            break;
        }
        pos += n;
      }
    }
    h.Close(rng() % 2);
    for (const auto& e : h.exchanges) CheckExchange(e);
    total_exchanges += h.exchanges.size();
    total_errors += h.http_stats().parse_errors;
    total_gaps += h.http_stats().gaps;
  }
  EXPECT_GT(total_exchanges, 0u);
  EXPECT_GT(total_errors, 0u);
  EXPECT_GT(total_gaps, 0u);
}

}  // namespace
}  // namespace weft::testing
