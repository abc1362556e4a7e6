#include "agent/protocols/http1/http1_connection.h"

#include <llhttp.h>

#include <algorithm>
#include <utility>

namespace weft::http1 {
namespace {

bool IsInformational(uint16_t status) { return status >= 100 && status < 200 && status != 101; }

}  // namespace

Http1Connection::Http1Connection(const ParserOptions* options, Http1Stats* stats, IdGenerator* ids,
                                 const ExchangeSink* sink, StitchScratch* scratch)
    : options_(options),
      stats_(stats),
      sink_(sink),
      scratch_(scratch),
      egress_(options, stats, ids, this),
      ingress_(options, stats, ids, this) {}

void Http1Connection::SetRole(Role role) {
  if (role == Role::kClient) {
    egress_.SetKind(StreamKind::kRequests);
    ingress_.SetKind(StreamKind::kResponses);
  } else if (role == Role::kServer) {
    ingress_.SetKind(StreamKind::kRequests);
    egress_.SetKind(StreamKind::kResponses);
  }
}

DirectionParser* Http1Connection::RequestParser() {
  if (egress_.kind() == StreamKind::kRequests) return &egress_;
  if (ingress_.kind() == StreamKind::kRequests) return &ingress_;
  return nullptr;
}

void Http1Connection::OnData(Direction direction, std::string_view data, const SegmentMeta& meta) {
  Parser(direction).Feed(data, meta);
}

void Http1Connection::OnGap(Direction direction, uint64_t length, const SegmentMeta& meta) {
  Parser(direction).Gap(length, meta);
}

void Http1Connection::OnKindDiscovered(DirectionParser& parser, StreamKind kind) {
  Other(parser).SetKind(kind == StreamKind::kRequests ? StreamKind::kResponses
                                                      : StreamKind::kRequests);
}

void Http1Connection::OnNotHttp() {
  egress_.Stop();
  ingress_.Stop();
}

void Http1Connection::Push(HttpRequest& request) {
  if (pending_count_ > 0 && pending_count_ >= options_->max_pending_requests) {
    if (!Front().placeholder) ++stats_->requests_dropped;
    ++stats_->pending_overflows;
    PopFront();
  }
  if (pending_count_ == pending_.size()) {
    // Grow the ring, keeping its order (rare: only deeper pipelining than seen before).
    std::vector<HttpRequest> grown(pending_.empty() ? 2 : 2 * pending_.size());
    for (size_t i = 0; i < pending_count_; ++i) {
      grown[i].SwapWith(pending_[(pending_head_ + i) % pending_.size()]);
    }
    pending_.swap(grown);
    pending_head_ = 0;
  }
  pending_[(pending_head_ + pending_count_) % pending_.size()].SwapWith(request);
  ++pending_count_;
}

void Http1Connection::PopFront() {
  pending_head_ = (pending_head_ + 1) % pending_.size();
  --pending_count_;
}

void Http1Connection::OnRequest(HttpRequest& request) { Push(request); }

int Http1Connection::OnResponseHead(const HttpResponse& response) {
  uint16_t status = response.status_code;
  if (status == 101) return 2;
  // No body whatever the headers say (RFC 9110 6.4.1); the parser would
  // read a Content-Length body after a 304.
  if (status < 200 || status == 204 || status == 304) return 1;
  if (pending_count_ == 0) return 0;
  const HttpRequest& request = Front();
  if (request.placeholder) return 0;
  if (request.method == HTTP_HEAD) return 1;
  if (request.method == HTTP_CONNECT && response.status_code >= 200 && response.status_code < 300) {
    return 2;  // a tunnel: no body, bytes after the head are not HTTP
  }
  return 0;
}

bool Http1Connection::Realign(const HttpResponse& response) {
  // A response cannot start before its request did.
  size_t keep = pending_count_;
  for (size_t i = pending_count_; i-- > 0;) {
    if (pending_[(pending_head_ + i) % pending_.size()].start_ns <= response.start_ns) {
      keep = i;
      break;
    }
  }
  if (keep == pending_count_) return false;
  for (size_t i = 0; i < keep; ++i) {
    if (!Front().placeholder) ++stats_->requests_dropped;
    PopFront();
  }
  return true;
}

void Http1Connection::OnResponse(HttpResponse& response) {
  if (IsInformational(response.status_code)) {
    ++stats_->informational_responses;
    return;
  }
  ++stats_->responses;
  bool switched = false;
  bool matched = pending_count_ > 0;
  if (matched && alignment_lost_) {
    matched = Realign(response);
    alignment_lost_ = false;
  }
  DirectionParser* requests = RequestParser();
  const HttpRequest* in_progress =
      pending_count_ == 0 && requests != nullptr ? requests->RequestInProgress() : nullptr;
  if (in_progress != nullptr) {
    // Answered before its body was sent (401/413/417 instead of 100 Continue).
    HttpRequest& early = scratch_->early;
    early = *in_progress;
    early.body_size_known = false;
    early.end_ns = response.start_ns;
    requests->MarkAnsweredEarly();
    ExchangeError error = response.complete ? ExchangeError::kNone : closing_reason_;
    Emit(early, &response, error, response.end_ns);
  } else if (!matched) {
    ++stats_->unmatched_responses;
    switched = response.status_code == 101;
  } else if (Front().placeholder) {
    ++stats_->unmatched_responses;
    PopFront();
  } else {
    HttpRequest& request = Front();
    uint16_t status = response.status_code;
    switched = status == 101 || (request.method == HTTP_CONNECT && status >= 200 && status < 300);
    bool refused_upgrade = request.upgrade && !switched;
    ExchangeError error = response.complete ? ExchangeError::kNone : closing_reason_;
    Emit(request, &response, error, response.end_ns);
    PopFront();
    if (refused_upgrade && requests != nullptr) requests->ResumeAfterRefusedUpgrade();
  }
  if (switched) {
    ++stats_->upgrades;
    egress_.Stop();
    ingress_.Stop();
  }
}

void Http1Connection::Emit(HttpRequest& request, HttpResponse* response, ExchangeError error,
                           uint64_t end_ns) {
  HttpExchange& exchange = scratch_->exchange;
  exchange.conn_id = info_.conn_id;
  exchange.tgid = info_.tgid;
  exchange.tuple = info_.tuple;
  exchange.tls = info_.tls;
  exchange.kind =
      ingress_.kind() == StreamKind::kRequests ? ExchangeKind::kServer : ExchangeKind::kClient;
  exchange.request.SwapWith(request);
  exchange.has_response = response != nullptr;
  if (response != nullptr) {
    exchange.response.SwapWith(*response);
  } else {
    exchange.response.Clear();
  }
  exchange.error = error;
  exchange.end_ns = end_ns;
  ++stats_->exchanges;
  if (error != ExchangeError::kNone) ++stats_->exchanges_with_error;
  if (*sink_) (*sink_)(exchange);
}

void Http1Connection::Close(ExchangeError reason, uint64_t timestamp_ns) {
  closing_reason_ = reason;
  if (DirectionParser* requests = RequestParser()) {
    bool eof = reason != ExchangeError::kTimeout;
    requests->Finish(eof);
    Other(*requests).Finish(eof);
  } else {
    egress_.Stop();
    ingress_.Stop();
  }
  while (pending_count_ > 0) {
    HttpRequest& request = Front();
    if (!request.placeholder) {
      uint64_t end = std::max(timestamp_ns, request.end_ns);
      Emit(request, nullptr, reason, end);
    }
    PopFront();
  }
}

void Http1Connection::Discard() {
  while (pending_count_ > 0) {
    if (!Front().placeholder) ++stats_->requests_dropped;
    PopFront();
  }
  egress_.Stop();
  ingress_.Stop();
}

}  // namespace weft::http1
