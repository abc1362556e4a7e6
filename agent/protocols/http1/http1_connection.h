// Stitching: both directions of one connection, requests queued in order and
// paired with responses (FIFO, so pipelining works), exchanges handed to a sink.
#pragma once

#include <cstdint>
#include <string_view>
#include <vector>

#include "agent/events/event.h"
#include "agent/protocols/http1/direction_parser.h"
#include "agent/protocols/http1/http1_types.h"

namespace weft::http1 {

struct ConnectionInfo {
  uint64_t conn_id = 0;
  uint32_t tgid = 0;
  Tuple tuple;
  bool tls = false;  // the bytes are TLS plaintext (url.scheme https)
};

// Values an exchange is assembled in before it goes to the sink. One per
// tracker, not per connection: the sink is called synchronously.
struct StitchScratch {
  HttpExchange exchange;
  HttpRequest early;  // copy of a request answered before it was complete
};

class Http1Connection : private DirectionListener {
 public:
  // Every pointer must outlive the connection.
  Http1Connection(const ParserOptions* options, Http1Stats* stats, IdGenerator* ids,
                  const ExchangeSink* sink, StitchScratch* scratch);
  Http1Connection(const Http1Connection&) = delete;
  Http1Connection& operator=(const Http1Connection&) = delete;

  ConnectionInfo& info() { return info_; }
  const ConnectionInfo& info() const { return info_; }

  // A known role fixes which direction carries requests; without one the
  // first recognised request line or status line decides.
  void SetRole(Role role);

  void OnData(Direction direction, std::string_view data, const SegmentMeta& meta);
  void OnGap(Direction direction, uint64_t length, const SegmentMeta& meta);

  // The connection ended: a body delimited by the close completes (unless the
  // reason is a timeout); every request still waiting for its response
  // becomes an exchange with `reason` ending at `timestamp_ns`.
  void Close(ExchangeError reason, uint64_t timestamp_ns);
  // Forgets the connection without exchanges (eviction); waiting requests
  // are counted in requests_dropped.
  void Discard();

  // Both directions stopped for good (protocol switched, or not HTTP).
  bool done() const { return egress_.stopped() && ingress_.stopped(); }
  size_t pending_requests() const { return pending_count_; }

 private:
  DirectionParser& Parser(Direction d) { return d == Direction::kEgress ? egress_ : ingress_; }
  DirectionParser& Other(const DirectionParser& p) { return &p == &egress_ ? ingress_ : egress_; }
  DirectionParser* RequestParser();

  // DirectionListener.
  void OnKindDiscovered(DirectionParser& parser, StreamKind kind) override;
  void OnRequest(HttpRequest& request) override;
  int OnResponseHead(const HttpResponse& response) override;
  void OnResponse(HttpResponse& response) override;
  void OnAlignmentLost() override { alignment_lost_ = true; }
  void OnNotHttp() override;

  HttpRequest& Front() { return pending_[pending_head_]; }
  void PopFront();
  void Push(HttpRequest& request);
  // After lost bytes, pairs `response` with the newest request that started
  // before it; older ones can no longer be matched. False: nothing fits.
  bool Realign(const HttpResponse& response);
  void Emit(HttpRequest& request, HttpResponse* response, ExchangeError error, uint64_t end_ns);

  const ParserOptions* options_;
  Http1Stats* stats_;
  const ExchangeSink* sink_;
  StitchScratch* scratch_;
  ConnectionInfo info_;
  DirectionParser egress_;
  DirectionParser ingress_;

  // Ring of requests waiting for their responses, oldest at pending_head_.
  std::vector<HttpRequest> pending_;
  size_t pending_head_ = 0;
  size_t pending_count_ = 0;
  bool alignment_lost_ = false;
  ExchangeError closing_reason_ = ExchangeError::kNone;
};

}  // namespace weft::http1
