// Test harness: one simulated TCP connection feeding a ConnectionTracker with
// byte-exact DataEvents, collecting the exchanges it produces.
#pragma once

#include <arpa/inet.h>
#include <sys/socket.h>

#include <cstring>
#include <string>
#include <string_view>
#include <vector>

#include "agent/conn/connection_tracker.h"

namespace weft::testing {

inline Tuple MakeTuple(const char* local, uint16_t local_port, const char* remote,
                       uint16_t remote_port) {
  Tuple t;
  t.family = AF_INET;
  inet_pton(AF_INET, local, t.local.addr.data());
  inet_pton(AF_INET, remote, t.remote.addr.data());
  t.local.port = local_port;
  t.remote.port = remote_port;
  return t;
}

inline TraceContext MakeContext(uint8_t seed, LinkSource link = LinkSource::kThread) {
  TraceContext c;
  for (size_t i = 0; i < c.trace_id.size(); ++i) c.trace_id[i] = static_cast<uint8_t>(seed + i);
  for (size_t i = 0; i < c.span_id.size(); ++i) c.span_id[i] = static_cast<uint8_t>(seed + 100 + i);
  c.parent_span_id[0] = static_cast<uint8_t>(seed + 7);
  c.trace_flags = 1;
  c.link_source = link;
  c.starts_span = true;
  return c;
}

class Harness {
 public:
  explicit Harness(Role role = Role::kServer, TrackerOptions options = {})
      : role_(role),
        tracker_(options, [this](const http1::HttpExchange& e) { exchanges.push_back(e); }) {}

  // Direction that carries requests / responses for this harness's role.
  Direction RequestDir() const {
    return role_ == Role::kClient ? Direction::kEgress : Direction::kIngress;
  }
  Direction ResponseDir() const {
    return role_ == Role::kClient ? Direction::kIngress : Direction::kEgress;
  }

  // One syscall moving `total_len` bytes of which `captured` were captured.
  void Data(Direction dir, std::string_view captured, uint32_t total_len,
            const TraceContext* context = nullptr) {
    DataEvent ev;
    ev.timestamp_ns = (now_ += 1000);
    ev.tgid = tgid;
    ev.tid = tid;
    ev.conn_id = conn_id;
    ev.seq = next_seq_[Index(dir)];
    ev.total_len = total_len;
    ev.direction = dir;
    ev.role = role_;
    ev.source = dir == Direction::kEgress ? Source::kWrite : Source::kRead;
    ev.truncated = captured.size() < total_len;
    ev.size_only = captured.empty() && total_len > 0;
    ev.has_seq = has_seq;
    ev.tuple = tuple;
    if (context != nullptr) ev.context = *context;
    ev.data = captured;
    next_seq_[Index(dir)] += total_len;
    tracker_.OnData(ev);
  }
  void Data(Direction dir, std::string_view bytes, const TraceContext* context = nullptr) {
    Data(dir, bytes, static_cast<uint32_t>(bytes.size()), context);
  }
  void Request(std::string_view bytes, const TraceContext* context = nullptr) {
    Data(RequestDir(), bytes, context);
  }
  void Response(std::string_view bytes) { Data(ResponseDir(), bytes); }
  // Bytes that moved but whose event was lost.
  void Lose(Direction dir, uint32_t length) {
    next_seq_[Index(dir)] += length;
    now_ += 1000;
  }
  void Close(bool reset = false) {
    CloseEvent ev;
    ev.timestamp_ns = (now_ += 1000);
    ev.tgid = tgid;
    ev.tid = tid;
    ev.conn_id = conn_id;
    ev.role = role_;
    ev.reset = reset;
    ev.tuple = tuple;
    tracker_.OnClose(ev);
  }
  void SetSeq(Direction dir, uint32_t seq) { next_seq_[Index(dir)] = seq; }
  uint64_t now() const { return now_; }
  void Advance(uint64_t ns) { now_ += ns; }

  ConnectionTracker& tracker() { return tracker_; }
  const http1::Http1Stats& http_stats() const { return tracker_.stats().http; }

  std::vector<http1::HttpExchange> exchanges;
  uint64_t conn_id = 42;
  uint32_t tgid = 1000;
  uint32_t tid = 1001;
  bool has_seq = true;
  Tuple tuple = MakeTuple("10.0.0.1", 8080, "10.0.0.2", 40000);

 private:
  static int Index(Direction d) { return d == Direction::kEgress ? 0 : 1; }

  Role role_;
  ConnectionTracker tracker_;
  uint32_t next_seq_[2] = {1000, 5000};
  uint64_t now_ = 1'000'000;
};

}  // namespace weft::testing
