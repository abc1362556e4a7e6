#include <arpa/inet.h>
#include <sys/socket.h>

#include <cstring>
#include <string>

#include "agent/events/event.h"
#include "agent/events/event_json.h"
#include "bpf/capture.h"
#include "gtest/gtest.h"
#include "nlohmann/json.hpp"

namespace weft {
namespace {

std::string DataRecord(std::string_view payload, uint32_t total_len, uint8_t flags = 0) {
  weft_data_event ev{};
  ev.header.timestamp_ns = 1000;
  ev.header.tgid = 42;
  ev.header.tid = 43;
  ev.header.kind = WEFT_EVENT_DATA;
  ev.conn_id = 7;
  ev.fd = 5;
  ev.seq = 0xfffffff0u;
  ev.total_len = total_len;
  ev.captured_len = static_cast<uint32_t>(payload.size());
  ev.direction = WEFT_DIR_INGRESS;
  ev.role = WEFT_ROLE_SERVER;
  ev.source = WEFT_SRC_RECVFROM;
  ev.flags = flags;
  ev.tuple.family = AF_INET;
  inet_pton(AF_INET, "127.0.0.1", ev.tuple.local_addr);
  inet_pton(AF_INET, "10.1.2.3", ev.tuple.remote_addr);
  ev.tuple.local_port = 8080;
  ev.tuple.remote_port = 40000;
  for (int i = 0; i < 16; ++i) ev.context.trace_id[i] = static_cast<uint8_t>(i + 1);
  ev.context.span_id[0] = 0xab;
  ev.context.trace_flags = 1;
  ev.context.link_source = WEFT_LINK_PEER_SOCKET;
  ev.context.starts_span = 1;
  std::string record(reinterpret_cast<const char*>(&ev), sizeof(ev));
  record.append(payload);
  return record;
}

TEST(DecodeEvent, DataEventFields) {
  std::string record = DataRecord("GET / HTTP/1.1\r\n", 100, WEFT_DATA_TRUNCATED);
  auto event = DecodeEvent(record);
  ASSERT_TRUE(event.ok()) << event.status();
  const auto& d = std::get<DataEvent>(*event);
  EXPECT_EQ(d.tgid, 42u);
  EXPECT_EQ(d.tid, 43u);
  EXPECT_EQ(d.conn_id, 7u);
  EXPECT_EQ(d.fd, 5);
  EXPECT_EQ(d.seq, 0xfffffff0u);
  EXPECT_EQ(d.total_len, 100u);
  EXPECT_EQ(d.data, "GET / HTTP/1.1\r\n");
  EXPECT_TRUE(d.truncated);
  EXPECT_FALSE(d.size_only);
  EXPECT_EQ(d.direction, Direction::kIngress);
  EXPECT_EQ(d.role, Role::kServer);
  EXPECT_EQ(d.source, Source::kRecvfrom);
  EXPECT_EQ(d.tuple.LocalAddress(), "127.0.0.1");
  EXPECT_EQ(d.tuple.RemoteAddress(), "10.1.2.3");
  EXPECT_EQ(d.tuple.local.port, 8080);
  EXPECT_TRUE(d.context.valid());
  EXPECT_TRUE(d.context.starts_span);
  EXPECT_EQ(d.context.link_source, LinkSource::kPeerSocket);
  EXPECT_EQ(ToHex(d.context.trace_id), "0102030405060708090a0b0c0d0e0f10");
}

TEST(DecodeEvent, LinkSourcesKeepTheirNamesAndUnknownOnesBecomeNone) {
  const std::pair<uint8_t, std::string_view> known[] = {{WEFT_LINK_NONE, "none"},
                                                        {WEFT_LINK_THREAD, "thread"},
                                                        {WEFT_LINK_PEER_SOCKET, "peer-socket"},
                                                        {WEFT_LINK_TRACEPARENT, "traceparent"},
                                                        {WEFT_LINK_AMBIGUOUS, "ambiguous"},
                                                        {WEFT_LINK_PROXY_TURN, "proxy-turn"},
                                                        {WEFT_LINK_GOROUTINE, "goroutine"},
                                                        {WEFT_LINK_NODE_ASYNC, "node-async"},
                                                        {WEFT_LINK_SOURCE_MAX + 1, "none"}};
  for (const auto& [value, name] : known) {
    std::string record = DataRecord("GET / HTTP/1.1\r\n", 16);
    reinterpret_cast<weft_data_event*>(record.data())->context.link_source = value;
    auto event = DecodeEvent(record);
    ASSERT_TRUE(event.ok()) << event.status();
    EXPECT_EQ(ToString(std::get<DataEvent>(*event).context.link_source), name) << int{value};
  }
}

TEST(DecodeEvent, RejectsMalformedRecords) {
  EXPECT_FALSE(DecodeEvent("").ok());
  EXPECT_FALSE(DecodeEvent(std::string(10, '\0')).ok());
  std::string record = DataRecord("abc", 3);
  // captured_len beyond the record
  EXPECT_FALSE(DecodeEvent(record.substr(0, record.size() - 1)).ok());
  // a truncated fixed part
  EXPECT_FALSE(DecodeEvent(record.substr(0, 100)).ok());
  // unknown kind
  record[offsetof(weft_event_header, kind)] = 99;
  EXPECT_FALSE(DecodeEvent(record).ok());
}

TEST(DecodeEvent, CloseAndProcessEvents) {
  weft_close_event c{};
  c.header.kind = WEFT_EVENT_CLOSE;
  c.header.tgid = 9;
  c.conn_id = 11;
  c.reset = 1;
  c.bytes_sent = 123;
  auto ce = DecodeEvent(std::string_view(reinterpret_cast<const char*>(&c), sizeof(c)));
  ASSERT_TRUE(ce.ok());
  EXPECT_EQ(std::get<CloseEvent>(*ce).conn_id, 11u);
  EXPECT_TRUE(std::get<CloseEvent>(*ce).reset);
  EXPECT_EQ(std::get<CloseEvent>(*ce).bytes_sent, 123u);

  weft_process_event p{};
  p.header.kind = WEFT_EVENT_PROCESS_FORK;
  p.header.tgid = 100;
  p.parent_tgid = 99;
  auto pe = DecodeEvent(std::string_view(reinterpret_cast<const char*>(&p), sizeof(p)));
  ASSERT_TRUE(pe.ok());
  EXPECT_EQ(std::get<ProcessEvent>(*pe).kind, ProcessEvent::Kind::kFork);
  EXPECT_EQ(std::get<ProcessEvent>(*pe).parent_tgid, 99u);
  EXPECT_FALSE(DecodeEvent(std::string_view(reinterpret_cast<const char*>(&p), 20)).ok());
}

TEST(EventJson, BytesRoundTripAsLatin1) {
  std::string payload("A\0\x01\xff\x80z\"\\", 8);
  auto event = DecodeEvent(DataRecord(payload, 8));
  ASSERT_TRUE(event.ok());
  auto j = nlohmann::json::parse(EventToJson(*event, 0));
  std::string utf8 = j["data"].get<std::string>();
  // Decode UTF-8 code points (all < 256) back into bytes.
  std::string bytes;
  for (size_t i = 0; i < utf8.size(); ++i) {
    auto c = static_cast<unsigned char>(utf8[i]);
    if (c < 0x80) {
      bytes.push_back(static_cast<char>(c));
    } else {
      bytes.push_back(static_cast<char>(((c & 0x1f) << 6) | (utf8[++i] & 0x3f)));
    }
  }
  EXPECT_EQ(bytes, payload);
  EXPECT_EQ(j["type"], "data");
  EXPECT_EQ(j["tuple"]["local_addr"], "127.0.0.1");
  EXPECT_EQ(j["context"]["link_source"], "peer-socket");
  // The printed line is pure ASCII: non-printable bytes are escaped.
  for (char c : EventToJson(*event, 0)) EXPECT_LT(static_cast<unsigned char>(c), 0x80);
}

}  // namespace
}  // namespace weft
