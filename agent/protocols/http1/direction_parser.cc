#include "agent/protocols/http1/direction_parser.h"

#include <algorithm>
#include <climits>
#include <cstring>

namespace weft::http1 {
namespace {

DirectionParser* Self(http_parser* p) { return static_cast<DirectionParser*>(p->data); }

void AppendCapped(std::string& out, const char* at, size_t length, size_t cap,
                  bool* truncated = nullptr) {
  size_t room = out.size() < cap ? cap - out.size() : 0;
  if (length > room) {
    if (truncated) *truncated = true;
    length = room;
  }
  out.append(at, length);
}

void TrimTrailingSpace(std::string& s) {
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.pop_back();
}

void CountParseError(http_errno error, Http1Stats* stats) {
  ++stats->parse_errors;
  switch (error) {
    case HPE_INVALID_METHOD:
      ++stats->parse_error_method;
      break;
    case HPE_INVALID_VERSION:
    case HPE_INVALID_STATUS:
    case HPE_INVALID_CONSTANT:
    case HPE_INVALID_URL:
    case HPE_INVALID_HOST:
    case HPE_INVALID_PORT:
    case HPE_INVALID_PATH:
    case HPE_INVALID_QUERY_STRING:
    case HPE_INVALID_FRAGMENT:
      ++stats->parse_error_start_line;
      break;
    case HPE_INVALID_HEADER_TOKEN:
    case HPE_INVALID_CONTENT_LENGTH:
    case HPE_UNEXPECTED_CONTENT_LENGTH:
    case HPE_INVALID_TRANSFER_ENCODING:
    case HPE_LF_EXPECTED:
      ++stats->parse_error_header;
      break;
    case HPE_INVALID_CHUNK_SIZE:
      ++stats->parse_error_body;
      break;
    default:
      ++stats->parse_error_other;
      break;
  }
}

}  // namespace

DirectionParser::DirectionParser(const ParserOptions* options, Http1Stats* stats, IdGenerator* ids,
                                 DirectionListener* listener)
    : options_(options), stats_(stats), ids_(ids), listener_(listener) {}

const http_parser_settings& DirectionParser::Settings() {
  static const http_parser_settings settings = [] {
    http_parser_settings s;
    http_parser_settings_init(&s);
    s.on_message_begin = &DirectionParser::CbMessageBegin;
    s.on_url = &DirectionParser::CbUrl;
    s.on_status = &DirectionParser::CbStatus;
    s.on_header_field = &DirectionParser::CbHeaderField;
    s.on_header_value = &DirectionParser::CbHeaderValue;
    s.on_headers_complete = &DirectionParser::CbHeadersComplete;
    s.on_body = &DirectionParser::CbBody;
    s.on_message_complete = &DirectionParser::CbMessageComplete;
    s.on_chunk_header = &DirectionParser::CbChunkHeader;
    s.on_chunk_complete = &DirectionParser::CbChunkComplete;
    return s;
  }();
  return settings;
}

void DirectionParser::SetKind(StreamKind kind) {
  if (kind_ == StreamKind::kUnknown) kind_ = kind;
}

void DirectionParser::Feed(std::string_view data, const SegmentMeta& meta) {
  if (state_ == State::kStopped || data.empty()) return;
  bool at_event_start = meta.at_event_start;
  while (!data.empty()) {
    switch (state_) {
      case State::kStopped:
        return;
      case State::kAwaitingUpgrade:
        // Early bytes after an upgrade request: another protocol, or requests
        // that only count if the upgrade is refused. Not parsed either way.
        awaiting_dropped_bytes_ = true;
        return;
      case State::kResync: {
        if (carry_length_ > 0 && TryCarry(data, meta)) {
          at_event_start = false;
          break;
        }
        size_t skip = Resync(data, meta);
        data.remove_prefix(skip);
        if (skip > 0) at_event_start = false;
        break;
      }
      case State::kParsing:
        Execute(data, meta, at_event_start);
        at_event_start = false;
        break;
    }
  }
  last_data_ns_ = meta.timestamp_ns;
  last_tid_ = meta.tid;
}

bool DirectionParser::TryCarry(std::string_view& data, const SegmentMeta& meta) {
  std::array<char, 2 * kMaxStartProbe> probe;
  size_t take = std::min(data.size(), kMaxStartProbe - carry_length_);
  std::memcpy(probe.data(), carry_.data(), carry_length_);
  std::memcpy(probe.data() + carry_length_, data.data(), take);
  StartMatch match = MatchMessageStart(std::string_view(probe.data(), carry_length_ + take));
  if (match == StartMatch::kNeedMore) {
    std::memcpy(carry_.data() + carry_length_, data.data(), take);
    carry_length_ += take;
    data.remove_prefix(take);
    return true;
  }
  bool fits = (match == StartMatch::kRequest && kind_ != StreamKind::kResponses) ||
              (match == StartMatch::kResponse && kind_ != StreamKind::kRequests);
  if (!fits) {
    stats_->resync_bytes_skipped += carry_length_;
    carry_length_ = 0;
    next_byte_may_start_ = false;  // the carry held no line feed
    return false;
  }
  StreamKind kind = match == StartMatch::kRequest ? StreamKind::kRequests : StreamKind::kResponses;
  if (kind_ == StreamKind::kUnknown) {
    kind_ = kind;
    listener_->OnKindDiscovered(*this, kind);
  }
  StartParsing(kind);
  // The message began in an earlier event: its time and thread, no kernel context.
  SegmentMeta carry_meta{carry_ns_, carry_tid_, nullptr, false};
  std::string_view carried(carry_.data(), carry_length_);
  carry_length_ = 0;
  while (!carried.empty() && state_ == State::kParsing) Execute(carried, carry_meta, false);
  (void)meta;
  return true;
}

size_t DirectionParser::Resync(std::string_view data, const SegmentMeta& meta) {
  size_t pos = 0;
  bool candidate = next_byte_may_start_;
  while (pos < data.size()) {
    if (candidate) {
      StartMatch match = MatchMessageStart(data.substr(pos, kMaxStartProbe));
      bool fits = (match == StartMatch::kRequest && kind_ != StreamKind::kResponses) ||
                  (match == StartMatch::kResponse && kind_ != StreamKind::kRequests);
      if (fits) {
        stats_->resync_bytes_skipped += pos;
        if (pos > 0 || ever_synced_) ++stats_->resyncs;
        StreamKind kind =
            match == StartMatch::kRequest ? StreamKind::kRequests : StreamKind::kResponses;
        if (kind_ == StreamKind::kUnknown) {
          kind_ = kind;
          listener_->OnKindDiscovered(*this, kind);
        }
        StartParsing(kind);
        return pos;
      }
      if (match == StartMatch::kNeedMore) {
        // Only at the tail: keep the prefix until the next bytes decide.
        stats_->resync_bytes_skipped += pos;
        carry_length_ = data.size() - pos;
        std::memcpy(carry_.data(), data.data() + pos, carry_length_);
        carry_ns_ = meta.timestamp_ns;
        carry_tid_ = meta.tid;
        return data.size();
      }
    }
    const void* lf = std::memchr(data.data() + pos, '\n', data.size() - pos);
    if (lf == nullptr) break;
    pos = static_cast<const char*>(lf) - data.data() + 1;
    candidate = true;
  }
  next_byte_may_start_ = data.back() == '\n';
  stats_->resync_bytes_skipped += data.size();
  if (!ever_synced_) {
    scanned_unsynced_ += data.size();
    if (scanned_unsynced_ > options_->non_http_scan_limit) {
      Stop();
      ++stats_->non_http_streams;
      listener_->OnNotHttp();
    }
  }
  return data.size();
}

void DirectionParser::ResetParser(StreamKind kind) {
  http_parser_init(&parser_, kind == StreamKind::kRequests ? HTTP_REQUEST : HTTP_RESPONSE);
  parser_.data = this;
  state_ = State::kParsing;
  in_message_ = false;
  headers_complete_ = false;
  in_chunk_data_ = false;
}

void DirectionParser::StartParsing(StreamKind kind) {
  ResetParser(kind);
  ever_synced_ = true;
}

void DirectionParser::EnterResync(bool next_byte_may_start) {
  state_ = State::kResync;
  next_byte_may_start_ = next_byte_may_start;
  carry_length_ = 0;
  in_message_ = false;
  headers_complete_ = false;
  in_chunk_data_ = false;
}

void DirectionParser::Execute(std::string_view& data, const SegmentMeta& meta,
                              bool at_event_start) {
  meta_ = &meta;
  zero_offset_candidate_ = at_event_start && !in_message_ && data[0] != '\r' && data[0] != '\n';
  size_t parsed = http_parser_execute(&parser_, &Settings(), data.data(), data.size());
  meta_ = nullptr;
  zero_offset_candidate_ = false;
  auto error = HTTP_PARSER_ERRNO(&parser_);
  if (state_ == State::kStopped) {
    data = {};
    return;
  }
  if (error == HPE_OK) {
    if (parser_.upgrade) {
      // libhttp-parser stops after a message that switches protocols. A
      // request waits for the verdict of its response; a response that
      // switched has already stopped the connection.
      data.remove_prefix(std::min(parsed, data.size()));
      if (kind_ == StreamKind::kRequests) {
        state_ = State::kAwaitingUpgrade;
        awaiting_dropped_bytes_ = !data.empty();
      } else {
        Stop();
      }
      data = {};
      return;
    }
    data = {};
    return;
  }
  if (error == HPE_CLOSED_CONNECTION) {
    // More bytes after a "Connection: close" message: parse them afresh.
    ResetParser(kind_);
    data.remove_prefix(std::min(parsed, data.size()));
    return;
  }
  if (head_overflow_ || error == HPE_HEADER_OVERFLOW) {
    ++stats_->buffer_overflows;
  } else if (bad_status_) {
    ++stats_->parse_errors;
    ++stats_->parse_error_start_line;
  } else {
    CountParseError(error, stats_);
  }
  AbandonMessage(/*malformed=*/true);
  if (state_ == State::kStopped) {
    data = {};
    return;
  }
  EnterResync(false);
  data.remove_prefix(std::min(data.size(), parsed + 1));
}

void DirectionParser::AbandonMessage(bool malformed) {
  if (!in_message_) {
    if (!malformed) listener_->OnAlignmentLost();
    return;
  }
  in_message_ = false;
  if (!headers_complete_) {
    if (kind_ == StreamKind::kRequests && malformed && !head_overflow_) {
      // A malformed request usually still gets an answer (400): keep its
      // place in the queue so that answer pairs with nothing.
      request_.placeholder = true;
      listener_->OnRequest(request_);
    } else {
      listener_->OnAlignmentLost();
    }
    return;
  }
  ++stats_->incomplete_messages;
  if (kind_ == StreamKind::kRequests && answered_early_) return;
  if (kind_ == StreamKind::kRequests) {
    request_.body_size_known = false;
    request_.end_ns = last_data_ns_;
    listener_->OnRequest(request_);
  } else {
    response_.body_size_known = false;
    response_.complete = false;
    response_.end_ns = last_data_ns_;
    listener_->OnResponse(response_);
  }
}

bool DirectionParser::BodySkippable(uint64_t length) const {
  if (!in_message_ || !headers_complete_) return false;
  if (parser_.flags & F_CHUNKED) return in_chunk_data_ && parser_.content_length >= length;
  return parser_.content_length == ULLONG_MAX || parser_.content_length >= length;
}

void DirectionParser::FeedZeros(uint64_t length, const SegmentMeta& meta) {
  // Body bytes are never inspected, only counted: stand-in bytes keep
  // libhttp-parser's framing state exact across the hole.
  static const std::array<char, 64 * 1024> kZeros{};
  SegmentMeta inner = meta;
  inner.at_event_start = false;
  while (length > 0 && state_ == State::kParsing) {
    std::string_view chunk(kZeros.data(), std::min<uint64_t>(length, kZeros.size()));
    length -= chunk.size();
    while (!chunk.empty() && state_ == State::kParsing) Execute(chunk, inner, false);
  }
}

void DirectionParser::Gap(uint64_t length, const SegmentMeta& meta) {
  if (length == 0 || state_ == State::kStopped) return;
  ++stats_->gaps;
  stats_->gap_bytes += length;
  last_data_ns_ = meta.timestamp_ns;
  last_tid_ = meta.tid;
  switch (state_) {
    case State::kAwaitingUpgrade:
      awaiting_dropped_bytes_ = true;
      return;
    case State::kResync:
      carry_length_ = 0;
      next_byte_may_start_ = true;
      if (ever_synced_) listener_->OnAlignmentLost();  // whole messages may be in the hole
      return;
    default:
      break;
  }
  if (in_message_ && headers_complete_) {
    if (BodySkippable(length)) {
      ++stats_->gaps_skipped_in_body;
      FeedZeros(length, meta);
      return;
    }
    if (!(parser_.flags & F_CHUNKED) && parser_.content_length != ULLONG_MAX) {
      // The hole covers the rest of this body and then some: finish the body,
      // the remainder is lost at a message boundary.
      uint64_t rest = parser_.content_length;
      FeedZeros(rest, meta);
      length -= rest;
      if (state_ != State::kParsing) return;
    }
  }
  if (state_ != State::kParsing) return;
  AbandonMessage(/*malformed=*/false);
  if (state_ == State::kStopped) return;
  ++stats_->resyncs;
  EnterResync(true);
}

void DirectionParser::Finish(bool eof) {
  if (state_ == State::kParsing && in_message_ && eof) {
    SegmentMeta meta{last_data_ns_, last_tid_, nullptr, false};
    meta_ = &meta;
    http_parser_execute(&parser_, &Settings(), nullptr, 0);  // end of stream
    meta_ = nullptr;
  }
  if (state_ == State::kParsing && in_message_) AbandonMessage(/*malformed=*/false);
  Stop();
}

void DirectionParser::ResumeAfterRefusedUpgrade() {
  if (state_ != State::kAwaitingUpgrade) return;
  if (awaiting_dropped_bytes_) {
    ++stats_->resyncs;
    EnterResync(true);
  } else {
    ResetParser(kind_);
  }
  awaiting_dropped_bytes_ = false;
}

const HttpRequest* DirectionParser::RequestInProgress() const {
  bool open = state_ == State::kParsing && kind_ == StreamKind::kRequests && in_message_ &&
              headers_complete_ && !answered_early_;
  return open ? &request_ : nullptr;
}

bool DirectionParser::AddHeadBytes(size_t n) {
  head_bytes_ += n;
  if (head_bytes_ > options_->max_head_bytes) {
    head_overflow_ = true;
    return false;
  }
  return true;
}

DirectionParser::Capture DirectionParser::ClassifyField() const {
  if (field_length_ > field_.size()) return Capture::kNone;
  std::string_view name(field_.data(), field_length_);
  if (name == "host") return Capture::kHost;
  if (name == "user-agent") return Capture::kUserAgent;
  if (name == "traceparent") return Capture::kTraceparent;
  if (name == "tracestate") return Capture::kTracestate;
  if (name == "content-type") return Capture::kContentType;
  return Capture::kNone;
}

int DirectionParser::CbMessageBegin(http_parser* p) {
  DirectionParser* self = Self(p);
  self->in_message_ = true;
  self->headers_complete_ = false;
  self->in_chunk_data_ = false;
  self->head_overflow_ = false;
  self->bad_status_ = false;
  self->answered_early_ = false;
  self->head_bytes_ = 0;
  self->field_length_ = 0;
  self->last_was_value_ = true;
  self->capture_ = Capture::kNone;
  const SegmentMeta& meta = *self->meta_;
  bool at_event_start = self->zero_offset_candidate_;
  self->zero_offset_candidate_ = false;
  if (self->kind_ == StreamKind::kRequests) {
    HttpRequest& r = self->request_;
    r.Clear();
    r.start_ns = meta.timestamp_ns;
    r.tid = meta.tid;
    // The kernel's context describes the request that starts its event.
    const TraceContext* ctx = meta.context;
    if (at_event_start && ctx != nullptr && ctx->starts_span && ctx->valid()) {
      r.context = *ctx;
      r.context_from_kernel = true;
    } else {
      r.context = self->ids_->NewRootContext();
    }
  } else {
    self->response_.Clear();
    self->response_.start_ns = meta.timestamp_ns;
  }
  return 0;
}

int DirectionParser::CbUrl(http_parser* p, const char* at, size_t length) {
  DirectionParser* self = Self(p);
  if (!self->AddHeadBytes(length)) return 1;
  AppendCapped(self->request_.target, at, length, self->options_->max_target_bytes,
               &self->request_.target_truncated);
  return 0;
}

int DirectionParser::CbStatus(http_parser* p, const char*, size_t length) {
  return Self(p)->AddHeadBytes(length) ? 0 : 1;
}

int DirectionParser::CbHeaderField(http_parser* p, const char* at, size_t length) {
  DirectionParser* self = Self(p);
  if (!self->AddHeadBytes(length)) return 1;
  if (self->headers_complete_) return 0;  // trailers
  if (self->last_was_value_) {
    self->field_length_ = 0;
    self->last_was_value_ = false;
  }
  for (size_t i = 0; i < length; ++i, ++self->field_length_) {
    if (self->field_length_ < self->field_.size()) {
      char c = at[i];
      self->field_[self->field_length_] = (c >= 'A' && c <= 'Z') ? static_cast<char>(c + 32) : c;
    }
  }
  return 0;
}

int DirectionParser::CbHeaderValue(http_parser* p, const char* at, size_t length) {
  DirectionParser* self = Self(p);
  if (!self->AddHeadBytes(length)) return 1;
  if (self->headers_complete_) return 0;
  bool is_request = self->kind_ == StreamKind::kRequests;
  HttpRequest& rq = self->request_;
  std::string* out = nullptr;
  if (!self->last_was_value_) {
    self->last_was_value_ = true;
    self->capture_ = self->ClassifyField();
    // The first occurrence of a header wins.
    switch (self->capture_) {
      case Capture::kHost:
        if (!is_request || !rq.host.empty()) self->capture_ = Capture::kNone;
        break;
      case Capture::kUserAgent:
        if (!is_request || !rq.user_agent.empty()) self->capture_ = Capture::kNone;
        break;
      case Capture::kTraceparent:
        if (!is_request || !rq.traceparent.empty()) self->capture_ = Capture::kNone;
        break;
      case Capture::kTracestate:
        if (!is_request || !rq.tracestate.empty()) self->capture_ = Capture::kNone;
        break;
      case Capture::kContentType: {
        const std::string& ct = is_request ? rq.content_type : self->response_.content_type;
        if (!ct.empty()) self->capture_ = Capture::kNone;
        break;
      }
      default:
        break;
    }
  }
  switch (self->capture_) {
    case Capture::kHost:
      out = &rq.host;
      break;
    case Capture::kUserAgent:
      out = &rq.user_agent;
      break;
    case Capture::kTraceparent:
      out = &rq.traceparent;
      break;
    case Capture::kTracestate:
      out = &rq.tracestate;
      break;
    case Capture::kContentType:
      out = is_request ? &rq.content_type : &self->response_.content_type;
      break;
    default:
      return 0;
  }
  AppendCapped(*out, at, length, self->options_->max_header_value_bytes);
  return 0;
}

int DirectionParser::CbHeadersComplete(http_parser* p) {
  DirectionParser* self = Self(p);
  if (self->kind_ == StreamKind::kResponses && (p->status_code < 100 || p->status_code > 599)) {
    // libhttp-parser takes any 1-3 digits; a status code has exactly three.
    self->bad_status_ = true;
    return -1;
  }
  self->headers_complete_ = true;
  if (self->kind_ == StreamKind::kRequests) {
    HttpRequest& r = self->request_;
    r.method = static_cast<uint8_t>(p->method);
    r.version_major = static_cast<uint8_t>(p->http_major);
    r.version_minor = static_cast<uint8_t>(p->http_minor);
    TrimTrailingSpace(r.host);
    TrimTrailingSpace(r.user_agent);
    TrimTrailingSpace(r.traceparent);
    TrimTrailingSpace(r.tracestate);
    TrimTrailingSpace(r.content_type);
    ++self->stats_->requests;
    return 0;
  }
  HttpResponse& r = self->response_;
  r.status_code = static_cast<uint16_t>(p->status_code);
  r.version_major = static_cast<uint8_t>(p->http_major);
  r.version_minor = static_cast<uint8_t>(p->http_minor);
  TrimTrailingSpace(r.content_type);
  return self->listener_->OnResponseHead(r);
}

int DirectionParser::CbBody(http_parser* p, const char*, size_t length) {
  DirectionParser* self = Self(p);
  if (self->kind_ == StreamKind::kRequests) {
    self->request_.body_size += length;
  } else {
    self->response_.body_size += length;
  }
  return 0;
}

int DirectionParser::CbMessageComplete(http_parser* p) {
  DirectionParser* self = Self(p);
  self->in_message_ = false;
  uint64_t now = self->meta_ != nullptr ? self->meta_->timestamp_ns : self->last_data_ns_;
  if (self->kind_ == StreamKind::kRequests) {
    self->request_.end_ns = now;
    self->request_.upgrade = p->upgrade;
    if (!self->answered_early_) self->listener_->OnRequest(self->request_);
  } else {
    self->response_.end_ns = now;
    self->listener_->OnResponse(self->response_);
  }
  return 0;
}

int DirectionParser::CbChunkHeader(http_parser* p) {
  DirectionParser* self = Self(p);
  self->in_chunk_data_ = p->content_length > 0;
  return 0;
}

int DirectionParser::CbChunkComplete(http_parser* p) {
  Self(p)->in_chunk_data_ = false;
  return 0;
}

}  // namespace weft::http1
