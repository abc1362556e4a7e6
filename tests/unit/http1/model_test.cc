// Property test against a model: random valid traffic (every body framing,
// bodiless responses, interim responses, pipelining), cut into random events,
// must come out as exactly the exchanges that were generated.
#include <gtest/gtest.h>
#include <llhttp.h>

#include <random>
#include <string>
#include <vector>

#include "tests/unit/http1/http1_harness.h"

namespace weft::testing {
namespace {

struct Expected {
  std::string target;
  uint8_t method;
  uint64_t request_body;
  int status;
  uint64_t response_body;
};

std::string ChunkedBody(uint64_t size, std::mt19937& rng) {
  std::string out;
  while (size > 0) {
    uint64_t n = 1 + rng() % size;
    char hex[32];
    snprintf(hex, sizeof(hex), "%llx", static_cast<unsigned long long>(n));
    out += hex;
    if (rng() % 3 == 0) out += ";ext=" + std::to_string(rng() % 100);
    out += "\r\n" + std::string(n, 'c') + "\r\n";
    size -= n;
  }
  out += "0\r\n";
  if (rng() % 2) out += "X-Checksum: " + std::to_string(rng()) + "\r\n";
  return out + "\r\n";
}

void Generate(std::mt19937& rng, int count, std::vector<Expected>* expected,
              std::vector<std::string>* requests, std::vector<std::string>* responses) {
  static const std::pair<uint8_t, const char*> kMethods[] = {{HTTP_GET, "GET"},
                                                             {HTTP_POST, "POST"},
                                                             {HTTP_PUT, "PUT"},
                                                             {HTTP_HEAD, "HEAD"},
                                                             {HTTP_DELETE, "DELETE"}};
  static const int kStatuses[] = {200, 201, 204, 304, 404, 500};
  for (int i = 0; i < count; ++i) {
    auto [method, name] = kMethods[rng() % 5];
    Expected e{"/p/" + std::to_string(i), method, 0, kStatuses[rng() % 6], 0};
    std::string req = std::string(name) + " " + e.target + " HTTP/1.1\r\nHost: model\r\n";
    bool expect_continue = false;
    if (method == HTTP_POST || method == HTTP_PUT) {
      e.request_body = rng() % 300;
      expect_continue = rng() % 4 == 0;
      if (expect_continue) req += "Expect: 100-continue\r\n";
      if (rng() % 2) {
        req += "Content-Length: " + std::to_string(e.request_body) + "\r\n\r\n" +
               std::string(e.request_body, 'q');
      } else {
        req += "Transfer-Encoding: chunked\r\n\r\n" + ChunkedBody(e.request_body, rng);
      }
    } else {
      req += "\r\n";
    }
    std::string resp;
    if (expect_continue) resp += "HTTP/1.1 100 Continue\r\n\r\n";
    resp += "HTTP/1.1 " + std::to_string(e.status) + " S\r\n";
    bool bodiless = method == HTTP_HEAD || e.status == 204 || e.status == 304;
    uint64_t declared = rng() % 500;
    e.response_body = bodiless ? 0 : declared;
    if (rng() % 2) {
      resp += "Content-Length: " + std::to_string(declared) + "\r\n\r\n" +
              std::string(e.response_body, 'r');
    } else if (e.status != 204 && e.status != 304) {
      resp += "Transfer-Encoding: chunked\r\n\r\n" +
              (bodiless ? std::string() : ChunkedBody(declared, rng));
    } else {
      resp += "\r\n";
    }
    expected->push_back(e);
    requests->push_back(req);
    responses->push_back(resp);
  }
}

// Sends `bytes` as a random number of events.
void SendSplit(Harness& h, Direction dir, const std::string& bytes, std::mt19937& rng) {
  size_t pos = 0;
  while (pos < bytes.size()) {
    size_t n = rng() % 4 == 0 ? bytes.size() - pos : 1 + rng() % (bytes.size() - pos);
    h.Data(dir, std::string_view(bytes).substr(pos, n));
    pos += n;
  }
}

TEST(Http1Model, RandomValidTrafficComesOutExactly) {
  std::mt19937 rng(2024);
  for (int round = 0; round < 300; ++round) {
    Harness h(round % 2 ? Role::kServer : Role::kClient);
    std::vector<Expected> expected;
    std::vector<std::string> requests, responses;
    Generate(rng, 1 + static_cast<int>(rng() % 12), &expected, &requests, &responses);
    // Pipelining depth: how many requests go out before their responses.
    size_t sent = 0;
    for (size_t answered = 0; answered < responses.size(); ++answered) {
      size_t depth = 1 + rng() % 3;
      while (sent < requests.size() && sent < answered + depth) {
        SendSplit(h, h.RequestDir(), requests[sent++], rng);
      }
      SendSplit(h, h.ResponseDir(), responses[answered], rng);
    }
    ASSERT_EQ(h.exchanges.size(), expected.size()) << "round " << round;
    for (size_t i = 0; i < expected.size(); ++i) {
      const auto& got = h.exchanges[i];
      const Expected& want = expected[i];
      EXPECT_EQ(got.request.target, want.target);
      EXPECT_EQ(got.request.method, want.method);
      EXPECT_EQ(got.request.body_size, want.request_body) << want.target;
      EXPECT_EQ(got.response.status_code, want.status);
      EXPECT_EQ(got.response.body_size, want.response_body) << want.target;
      EXPECT_EQ(got.error, http1::ExchangeError::kNone);
    }
    const auto& s = h.http_stats();
    EXPECT_EQ(s.parse_errors + s.gaps + s.resyncs + s.unmatched_responses + s.requests_dropped, 0u);
  }
}

}  // namespace
}  // namespace weft::testing
