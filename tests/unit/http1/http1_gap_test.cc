// Lost, truncated and size-only events; malformed input; connection ends;
// table bounds; context adoption.
#include <gtest/gtest.h>

#include <map>
#include <random>
#include <string>

#include "tests/unit/http1/http1_harness.h"

namespace weft::testing {
namespace {

using http1::ExchangeError;

std::string Get(std::string_view path) {
  return "GET " + std::string(path) + " HTTP/1.1\r\nHost: h\r\n\r\n";
}
std::string Ok(int status, std::string_view body) {
  return "HTTP/1.1 " + std::to_string(status) +
         " X\r\nContent-Length: " + std::to_string(body.size()) + "\r\n\r\n" + std::string(body);
}

TEST(Http1Gaps, TruncatedCaptureSkipsContentLengthBody) {
  Harness h;
  std::string head = "POST /upload HTTP/1.1\r\nHost: h\r\nContent-Length: 5000\r\n\r\n";
  std::string captured = head + std::string(100, 'b');
  h.Data(h.RequestDir(), captured, static_cast<uint32_t>(head.size() + 5000));
  h.Request(Get("/after"));
  h.Response(Ok(200, "") + Ok(200, ""));
  ASSERT_EQ(h.exchanges.size(), 2u);
  EXPECT_EQ(h.exchanges[0].request.body_size, 5000u);
  EXPECT_TRUE(h.exchanges[0].request.body_size_known);
  EXPECT_EQ(h.exchanges[1].request.target, "/after");
  EXPECT_EQ(h.http_stats().gaps_skipped_in_body, 1u);
  EXPECT_EQ(h.http_stats().resyncs, 0u);
  EXPECT_EQ(h.http_stats().parse_errors, 0u);
}

TEST(Http1Gaps, SizeOnlyEventInsideResponseBody) {
  Harness h;
  h.Request(Get("/file"));
  h.Response("HTTP/1.1 200 OK\r\nContent-Length: 1048576\r\n\r\n");
  h.Data(h.ResponseDir(), "", 1048576);  // sendfile: no bytes captured
  ASSERT_EQ(h.exchanges.size(), 1u);
  EXPECT_EQ(h.exchanges[0].response.body_size, 1048576u);
  EXPECT_EQ(h.http_stats().gaps_skipped_in_body, 1u);
}

TEST(Http1Gaps, LostEventInsideBodySkippedWhenLengthKnown) {
  Harness h;
  h.Request(Get("/a"));
  h.Response("HTTP/1.1 200 OK\r\nContent-Length: 30\r\n\r\n0123456789");
  h.Lose(h.ResponseDir(), 10);
  h.Response("0123456789");
  ASSERT_EQ(h.exchanges.size(), 1u);
  EXPECT_EQ(h.exchanges[0].response.body_size, 30u);
}

TEST(Http1Gaps, GapPastEndOfBodyResyncsAtNextMessage) {
  Harness h;
  h.Request(Get("/a"));
  h.Request(Get("/b"));
  h.Response("HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\n01234");
  // Lost: the rest of the body and all of the second response.
  h.Lose(h.ResponseDir(), 5 + static_cast<uint32_t>(Ok(201, "x").size()));
  h.Request(Get("/c"));
  h.Response(Ok(202, "y"));
  ASSERT_EQ(h.exchanges.size(), 2u);
  EXPECT_EQ(h.exchanges[0].request.target, "/a");
  EXPECT_EQ(h.exchanges[0].response.body_size, 10u);
  // Realigned by time: /b's response was lost, /c pairs with its own.
  EXPECT_EQ(h.exchanges[1].request.target, "/c");
  EXPECT_EQ(h.exchanges[1].response.status_code, 202);
  EXPECT_EQ(h.http_stats().requests_dropped, 1u);
}

TEST(Http1Gaps, LostResponseRealignsByTime) {
  Harness h;
  h.Request(Get("/0"));
  h.Response(Ok(200, "zero"));
  h.Request(Get("/1"));
  h.Lose(h.ResponseDir(), static_cast<uint32_t>(Ok(200, "one").size()));
  h.Request(Get("/2"));
  h.Response(Ok(200, "two"));
  ASSERT_EQ(h.exchanges.size(), 2u);
  EXPECT_EQ(h.exchanges[1].request.target, "/2");
  EXPECT_EQ(h.exchanges[1].response.body_size, 3u);
  EXPECT_EQ(h.http_stats().requests_dropped, 1u);
}

TEST(Http1Gaps, LostRequestHeadLeavesItsResponseUnmatched) {
  Harness h;
  h.Request(Get("/1"));
  h.Response(Ok(200, "1"));
  std::string second = Get("/2");
  h.Request(second.substr(0, 10));
  h.Lose(h.RequestDir(), static_cast<uint32_t>(second.size() - 10));
  h.Response(Ok(200, "2"));
  h.Request(Get("/3"));
  h.Response(Ok(200, "3"));
  ASSERT_EQ(h.exchanges.size(), 2u);
  EXPECT_EQ(h.exchanges[0].request.target, "/1");
  EXPECT_EQ(h.exchanges[1].request.target, "/3");
  EXPECT_EQ(h.exchanges[1].response.body_size, 1u);
  EXPECT_EQ(h.http_stats().unmatched_responses, 1u);
  EXPECT_GE(h.http_stats().gaps, 1u);
  EXPECT_GE(h.http_stats().resyncs, 1u);
}

TEST(Http1Gaps, HoleOfUnknownSizeIsNeverSkipped) {
  Harness h;
  h.Request(Get("/a"));
  h.Response("HTTP/1.1 200 OK\r\nConnection: close\r\n\r\nstreaming");
  h.Lose(h.ResponseDir(), 0x70000000);  // far beyond any plausible hole
  h.Response("more");
  h.Close();
  ASSERT_EQ(h.exchanges.size(), 1u);
  EXPECT_FALSE(h.exchanges[0].response.body_size_known);
  EXPECT_EQ(h.http_stats().gaps_skipped_in_body, 0u);
  EXPECT_EQ(h.http_stats().gap_bytes, 0u);
}

TEST(Http1Gaps, GapInChunkFramingGivesIncompleteBodyThenResync) {
  Harness h;
  h.Request(Get("/a"));
  h.Response("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nabcde\r\n");
  h.Lose(h.ResponseDir(), 20);  // chunk headers lost: framing unknown
  h.Request(Get("/b"));
  h.Response(Ok(200, "b"));
  ASSERT_EQ(h.exchanges.size(), 2u);
  EXPECT_EQ(h.exchanges[0].response.status_code, 200);
  EXPECT_FALSE(h.exchanges[0].response.body_size_known);
  EXPECT_EQ(h.exchanges[1].request.target, "/b");
  EXPECT_TRUE(h.exchanges[1].response.body_size_known);
  EXPECT_EQ(h.http_stats().incomplete_messages, 1u);
}

// With traceparent injection (sk_msg push), an egress event's sequence number
// includes the pushed bytes: every request looks preceded by a small hole.
TEST(Http1Gaps, InjectedBytesBeforeEachRequestAreHarmless) {
  Harness h(Role::kClient);
  for (int i = 0; i < 5; ++i) {
    h.Lose(h.RequestDir(), 70);
    h.Request(Get("/" + std::to_string(i)));
    h.Response(Ok(200, std::to_string(i)));
  }
  ASSERT_EQ(h.exchanges.size(), 5u);
  for (int i = 0; i < 5; ++i) {
    EXPECT_EQ(h.exchanges[i].request.target, "/" + std::to_string(i));
    EXPECT_EQ(h.exchanges[i].response.body_size, 1u);
  }
  EXPECT_EQ(h.http_stats().requests_dropped, 0u);
  EXPECT_EQ(h.http_stats().unmatched_responses, 0u);
}

TEST(Http1Gaps, TruncatedHeadIsLostAndParsingResumes) {
  Harness h;
  std::string big = "GET /big HTTP/1.1\r\nHost: h\r\nX-Pad: " + std::string(3000, 'p') + "\r\n\r\n";
  h.Data(h.RequestDir(), std::string_view(big).substr(0, 1024), static_cast<uint32_t>(big.size()));
  h.Request(Get("/next"));
  h.Response(Ok(200, "") + Ok(200, ""));
  ASSERT_EQ(h.exchanges.size(), 1u);
  EXPECT_EQ(h.exchanges[0].request.target, "/next");
  EXPECT_EQ(h.http_stats().parse_errors, 0u);
}

TEST(Http1Gaps, MalformedRequestCountedWithoutSpan) {
  Harness h;
  h.Request("GET / HTTP/x.1\r\nHost: h\r\n\r\n");
  h.Response("HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\n\r\n");
  h.Request(Get("/good"));
  h.Response(Ok(200, "g"));
  ASSERT_EQ(h.exchanges.size(), 1u);
  EXPECT_EQ(h.exchanges[0].request.target, "/good");
  EXPECT_EQ(h.http_stats().parse_errors, 1u);
  EXPECT_EQ(h.http_stats().parse_error_start_line, 1u);
  EXPECT_EQ(h.http_stats().unmatched_responses, 1u);
}

TEST(Http1Gaps, MalformedHeaderAndChunkCounted) {
  Harness h;
  h.Request("GET / HTTP/1.1\r\nBad Header\r\n\r\n");
  h.Request("\n" + Get("/x"));
  h.Response(Ok(400, "") + Ok(200, ""));
  h.Request("POST /c HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n");
  EXPECT_EQ(h.http_stats().parse_errors, 2u);
  EXPECT_EQ(h.http_stats().parse_error_header, 1u);
  EXPECT_EQ(h.http_stats().parse_error_body, 1u);
  ASSERT_EQ(h.exchanges.size(), 1u);
  EXPECT_EQ(h.exchanges[0].request.target, "/x");
}

TEST(Http1Gaps, MalformedStatusLineCounted) {
  Harness h;
  h.Request(Get("/ok"));
  h.Response(Ok(200, ""));
  h.Request(Get("/x") + Get("/y") + Get("/z"));
  h.Response("HTTP/1.1 2OO OK\r\n\r\n");
  EXPECT_EQ(h.http_stats().parse_errors, 1u);
  // Resync only accepts a plausible status line: this one is skipped, not parsed.
  h.Response("HTTP/1.1 42 Short\r\n\r\n");
  EXPECT_EQ(h.http_stats().parse_errors, 1u);
  // Parsed straight after a good response, the short status is an error too.
  h.Response("HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\nHTTP/1.1 42 Short\r\n\r\n");
  EXPECT_EQ(h.exchanges.size(), 2u);
  EXPECT_EQ(h.http_stats().parse_errors, 2u);
  EXPECT_EQ(h.http_stats().parse_error_start_line, 2u);
}

TEST(Http1Gaps, UnparseableFirstStatusLineIsSkipped) {
  Harness h;
  h.Request(Get("/x"));
  h.Response("HTTP/1.1 2OO OK\r\n\r\n");
  EXPECT_TRUE(h.exchanges.empty());
  EXPECT_GT(h.http_stats().resync_bytes_skipped, 0u);
}

TEST(Http1Gaps, OversizedHeadIsDroppedAndCounted) {
  TrackerOptions options;
  options.http.max_head_bytes = 1024;
  Harness h(Role::kServer, options);
  h.Request("GET /huge HTTP/1.1\r\nX-Big: " + std::string(4000, 'x') + "\r\n\r\n");
  h.Request(Get("/small"));
  h.Response(Ok(200, "") + Ok(200, ""));
  EXPECT_EQ(h.http_stats().buffer_overflows, 1u);
  EXPECT_EQ(h.http_stats().parse_errors, 0u);
  ASSERT_EQ(h.exchanges.size(), 1u);
  EXPECT_EQ(h.exchanges[0].request.target, "/small");
}

TEST(Http1Gaps, SequenceNumberWraparound) {
  Harness h;
  std::string request = "POST /w HTTP/1.1\r\nContent-Length: 40\r\n\r\n" + std::string(40, 'w');
  h.SetSeq(h.RequestDir(), 0xFFFFFFFFu - 20);
  h.Request(std::string_view(request).substr(0, 30));
  h.Request(std::string_view(request).substr(30));
  h.Response(Ok(200, ""));
  ASSERT_EQ(h.exchanges.size(), 1u);
  EXPECT_EQ(h.exchanges[0].request.body_size, 40u);
  EXPECT_EQ(h.http_stats().gaps, 0u);
}

TEST(Http1Gaps, GapAcrossWraparoundIsMeasuredExactly) {
  Harness h;
  std::string head = "POST /w HTTP/1.1\r\nContent-Length: 100\r\n\r\n";
  h.SetSeq(h.RequestDir(), 0xFFFFFFF0u);
  h.Request(head + std::string(10, 'a'));
  h.Lose(h.RequestDir(), 50);  // crosses 2^32
  h.Request(std::string(40, 'c'));
  h.Response(Ok(200, ""));
  ASSERT_EQ(h.exchanges.size(), 1u);
  EXPECT_EQ(h.exchanges[0].request.body_size, 100u);
  EXPECT_EQ(h.http_stats().gap_bytes, 50u);
}

TEST(Http1Gaps, RepeatedBytesAreNotParsedTwice) {
  Harness h;
  std::string request = Get("/peek");
  h.Request(request);
  // MSG_PEEK then read: the same bytes again (a server's ingress starts at 5000).
  h.SetSeq(h.RequestDir(), 5000);
  h.Request(request);
  h.Response(Ok(200, ""));
  ASSERT_EQ(h.exchanges.size(), 1u);
  EXPECT_EQ(h.tracker().stats().overlap_bytes, request.size());
}

TEST(Http1Gaps, NoSequenceNumbersUseArrivalOrder) {
  Harness h;
  h.has_seq = false;
  h.Request("GET /n HTTP/1.1\r\n");
  h.Request("Host: h\r\n\r\n");
  h.Response(Ok(200, "ok"));
  ASSERT_EQ(h.exchanges.size(), 1u);
  EXPECT_EQ(h.exchanges[0].request.host, "h");
}

TEST(Http1Close, ResetBeforeResponseIsAnError) {
  Harness h;
  h.Request(Get("/slow"));
  h.Close(/*reset=*/true);
  ASSERT_EQ(h.exchanges.size(), 1u);
  EXPECT_FALSE(h.exchanges[0].has_response);
  EXPECT_EQ(h.exchanges[0].error, ExchangeError::kConnectionReset);
  EXPECT_EQ(h.exchanges[0].end_ns, h.now());
  EXPECT_EQ(h.http_stats().exchanges_with_error, 1u);
}

TEST(Http1Close, CloseInsideResponseBodyKeepsStatusWithError) {
  Harness h;
  h.Request(Get("/partial"));
  h.Response("HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\nonly some");
  h.Close();
  ASSERT_EQ(h.exchanges.size(), 1u);
  EXPECT_TRUE(h.exchanges[0].has_response);
  EXPECT_EQ(h.exchanges[0].response.status_code, 200);
  EXPECT_EQ(h.exchanges[0].error, ExchangeError::kConnectionClosed);
  EXPECT_FALSE(h.exchanges[0].response.body_size_known);
}

TEST(Http1Close, AllPipelinedRequestsFlushedOnClose) {
  Harness h;
  h.Request(Get("/1") + Get("/2"));
  h.Response(Ok(200, ""));
  h.Close();
  ASSERT_EQ(h.exchanges.size(), 2u);
  EXPECT_EQ(h.exchanges[0].error, ExchangeError::kNone);
  EXPECT_EQ(h.exchanges[1].error, ExchangeError::kConnectionClosed);
  EXPECT_EQ(h.tracker().connection_count(), 0u);
}

TEST(Http1Close, ProcessExitFlushesItsConnections) {
  Harness h;
  h.Request(Get("/1"));
  h.tracker().OnProcessExit(999);  // another process
  EXPECT_TRUE(h.exchanges.empty());
  h.tracker().OnProcessExit(h.tgid, h.now() + 5);
  ASSERT_EQ(h.exchanges.size(), 1u);
  EXPECT_EQ(h.exchanges[0].error, ExchangeError::kProcessExited);
  EXPECT_EQ(h.tracker().stats().connections_exited, 1u);
}

TEST(Http1Close, IdleConnectionsExpireWithTimeout) {
  TrackerOptions options;
  options.idle_timeout_ns = 1'000'000'000;
  Harness h(Role::kServer, options);
  h.Request(Get("/1"));
  h.tracker().Expire(h.now() + 10);
  EXPECT_TRUE(h.exchanges.empty());
  h.tracker().Expire(h.now() + 2'000'000'000);
  ASSERT_EQ(h.exchanges.size(), 1u);
  EXPECT_EQ(h.exchanges[0].error, ExchangeError::kTimeout);
  EXPECT_EQ(h.tracker().stats().connections_expired, 1u);
  EXPECT_EQ(h.tracker().connection_count(), 0u);
}

TEST(Http1Close, ConnectionTableIsBoundedLru) {
  TrackerOptions options;
  options.max_connections = 2;
  Harness h(Role::kServer, options);
  for (uint64_t id : {1, 2, 1, 3}) {
    h.conn_id = id;
    h.Request(Get("/" + std::to_string(id)));
  }
  EXPECT_EQ(h.tracker().connection_count(), 2u);
  EXPECT_EQ(h.tracker().stats().connections_evicted, 1u);
  // Connection 2 was least recently used: its request is dropped, not flushed.
  EXPECT_EQ(h.http_stats().requests_dropped, 1u);
  EXPECT_TRUE(h.exchanges.empty());
}

TEST(Http1Context, AdoptsKernelContextOfFirstRequestInEvent) {
  Harness h;
  TraceContext ctx = MakeContext(10, LinkSource::kTraceparent);
  h.Request(Get("/a") + Get("/b"), &ctx);
  h.Response(Ok(200, "") + Ok(200, ""));
  ASSERT_EQ(h.exchanges.size(), 2u);
  const auto& first = h.exchanges[0].request;
  EXPECT_TRUE(first.context_from_kernel);
  EXPECT_EQ(first.context.trace_id, ctx.trace_id);
  EXPECT_EQ(first.context.span_id, ctx.span_id);
  EXPECT_EQ(first.context.parent_span_id, ctx.parent_span_id);
  EXPECT_EQ(first.context.link_source, LinkSource::kTraceparent);
  // The second request's first byte is not at the start of the event.
  const auto& second = h.exchanges[1].request;
  EXPECT_FALSE(second.context_from_kernel);
  EXPECT_TRUE(second.context.valid());
  EXPECT_NE(second.context.trace_id, ctx.trace_id);
  EXPECT_TRUE(IsZero(second.context.parent_span_id));
  EXPECT_EQ(second.context.link_source, LinkSource::kNone);
}

TEST(Http1Context, ContinuationEventContextIsNotAdopted) {
  Harness h;
  TraceContext ctx = MakeContext(20);
  ctx.starts_span = false;
  h.Request(Get("/a"), &ctx);
  TraceContext invalid;
  invalid.starts_span = true;  // but zero ids
  h.Request(Get("/b"), &invalid);
  h.Response(Ok(200, "") + Ok(200, ""));
  ASSERT_EQ(h.exchanges.size(), 2u);
  EXPECT_FALSE(h.exchanges[0].request.context_from_kernel);
  EXPECT_FALSE(h.exchanges[1].request.context_from_kernel);
  EXPECT_NE(h.exchanges[0].request.context.trace_id, h.exchanges[1].request.context.trace_id);
}

TEST(Http1Context, RequestSplitOverEventsTakesFirstEventContext) {
  Harness h;
  TraceContext ctx = MakeContext(30);
  TraceContext other = MakeContext(90);
  h.Request("GET /s HTTP/1.1\r\n", &ctx);
  h.Request("Host: h\r\n\r\n", &other);
  h.Response(Ok(200, ""));
  ASSERT_EQ(h.exchanges.size(), 1u);
  EXPECT_EQ(h.exchanges[0].request.context.span_id, ctx.span_id);
}

TEST(Http1Misc, VisitCountersNamesEveryCounter) {
  Harness h;
  h.Request("GET / HTTP/x.1\r\n\r\n");
  std::map<std::string, uint64_t> seen;
  VisitCounters(h.tracker().stats(),
                [&](std::string_view name, uint64_t v) { seen[std::string(name)] = v; });
  // Every field of the stats structs is visited exactly once.
  EXPECT_EQ(seen.size() * sizeof(uint64_t), sizeof(TrackerStats));
  EXPECT_EQ(seen["data_events"], 1u);
  EXPECT_EQ(seen["http.parse_errors"], 1u);
  EXPECT_EQ(seen["http.parse_error_start_line"], 1u);
}

TEST(Http1Misc, TlsAndHttp2ConnectionsAreGivenUpAtOnce) {
  Harness tls(Role::kClient);
  tls.Request(std::string("\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03", 11));
  EXPECT_EQ(tls.http_stats().non_http_streams, 1u);
  tls.Response(std::string("\x16\x03\x03\x00\x7a", 5));
  EXPECT_EQ(tls.tracker().stats().events_ignored, 1u);

  Harness joined(Role::kUnknown);  // mid-stream: application data records
  joined.Data(Direction::kIngress, std::string("\x17\x03\x03\x00\x20GET / HTTP/1.1", 20));
  EXPECT_EQ(joined.http_stats().non_http_streams, 1u);

  Harness h2(Role::kServer);
  h2.Request("PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n");
  EXPECT_EQ(h2.http_stats().non_http_streams, 1u);
  EXPECT_EQ(h2.http_stats().parse_errors, 0u);
}

TEST(Http1Misc, RedisInlineCommandsAreNotHttp) {
  Harness h(Role::kClient);
  for (int i = 0; i < 50; ++i) {
    h.Request("GET session:" + std::to_string(i) + "\r\n");
    h.Response("$5\r\nhello\r\n");
  }
  EXPECT_TRUE(h.exchanges.empty());
  EXPECT_EQ(h.http_stats().parse_errors, 0u);
  EXPECT_EQ(h.http_stats().requests, 0u);
}

TEST(Http1Misc, NonHttpConnectionIsGivenUp) {
  TrackerOptions options;
  options.http.non_http_scan_limit = 4096;
  Harness h(Role::kClient, options);
  std::mt19937 rng(7);
  std::string noise(2000, '\0');
  for (int round = 0; round < 4; ++round) {
    for (char& c : noise) c = static_cast<char>('a' + rng() % 26);
    h.Request(noise);
  }
  EXPECT_EQ(h.http_stats().non_http_streams, 1u);
  uint64_t before = h.tracker().stats().events_ignored;
  h.Request(Get("/late"));
  EXPECT_EQ(h.tracker().stats().events_ignored, before + 1);
}

}  // namespace
}  // namespace weft::testing
