#include "agent/protocols/http1/direction_parser.h"

#include <algorithm>
#include <cstring>

namespace weft::http1 {
namespace {

// A stream that opens with a TLS record (even joined mid-stream) or the
// HTTP/2 preface will never carry HTTP/1: no need to scan it.
bool OpensAnotherProtocol(std::string_view data) {
  // TLS record header: content type 20..23 (handshake, data, ...), version 3.x.
  bool tls = data.size() >= 3 && data[0] >= 0x14 && data[0] <= 0x17 && data[1] == 0x03 &&
             static_cast<unsigned char>(data[2]) <= 0x04;
  return tls || data.substr(0, 16) == "PRI * HTTP/2.0\r\n";
}

void CountParseError(llhttp_errno_t error, Http1Stats* stats) {
  ++stats->parse_errors;
  switch (error) {
    case HPE_INVALID_METHOD:
      ++stats->parse_error_method;
      break;
    case HPE_INVALID_VERSION:
    case HPE_INVALID_STATUS:
    case HPE_INVALID_CONSTANT:
    case HPE_INVALID_URL:
      ++stats->parse_error_start_line;
      break;
    case HPE_INVALID_HEADER_TOKEN:
    case HPE_INVALID_CONTENT_LENGTH:
    case HPE_UNEXPECTED_CONTENT_LENGTH:
    case HPE_INVALID_TRANSFER_ENCODING:
    case HPE_UNEXPECTED_SPACE:
    case HPE_CR_EXPECTED:
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

const llhttp_settings_t& DirectionParser::Settings() {
  static const llhttp_settings_t settings = [] {
    llhttp_settings_t s;
    llhttp_settings_init(&s);
    s.on_message_begin = &DirectionParser::CbMessageBegin;
    s.on_method = &DirectionParser::CbMethod;
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
  last_async_task_ = meta.async_task;
}

bool DirectionParser::TryCarry(std::string_view& data, const SegmentMeta& meta) {
  std::array<char, 2 * kMaxStartProbe> probe;
  size_t take = std::min(data.size(), kMaxStartProbe - carry_length_);
  std::memcpy(probe.data(), carry_.data(), carry_length_);
  std::memcpy(probe.data() + carry_length_, data.data(), take);
  StartMatch match = MatchMessageStart(std::string_view(probe.data(), carry_length_ + take));
  if (match == StartMatch::kNeedMore && take > 0) {
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
  if (ever_synced_) ++stats_->resyncs;
  StartParsing(kind);
  // The message began in an earlier event: its time and thread, no kernel context.
  SegmentMeta carry_meta{carry_ns_, carry_tid_, nullptr, false, carry_async_task_};
  std::string_view carried(carry_.data(), carry_length_);
  carry_length_ = 0;
  while (!carried.empty() && state_ == State::kParsing) Execute(carried, carry_meta, false);
  (void)meta;
  return true;
}

size_t DirectionParser::Resync(std::string_view data, const SegmentMeta& meta) {
  if (!ever_synced_ && scanned_unsynced_ == 0 && OpensAnotherProtocol(data)) {
    Stop();
    ++stats_->non_http_streams;
    listener_->OnNotHttp();
    return data.size();
  }
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
        carry_async_task_ = meta.async_task;
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
  llhttp_init(&parser_, kind == StreamKind::kRequests ? HTTP_REQUEST : HTTP_RESPONSE, &Settings());
  // An observer follows whatever the peers accept, as libhttp-parser did:
  // - after a message that should have closed the connection (HTTP/1.0,
  //   "Connection: close"), llhttp would otherwise drop every later byte;
  // - header lines ended by a bare LF, and control bytes in header values,
  //   would otherwise be parse errors.
  llhttp_set_lenient_keep_alive(&parser_, 1);
  llhttp_set_lenient_headers(&parser_, 1);
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
  llhttp_errno_t error = llhttp_execute(&parser_, data.data(), data.size());
  meta_ = nullptr;
  zero_offset_candidate_ = false;
  if (state_ == State::kStopped || error == HPE_OK) {
    data = {};
    return;
  }
  // Where llhttp stopped: the byte it failed on, or the first byte after a
  // message that switched protocols.
  const char* stop = llhttp_get_error_pos(&parser_);
  size_t parsed = stop != nullptr && stop >= data.data() && stop <= data.data() + data.size()
                      ? static_cast<size_t>(stop - data.data())
                      : data.size();
  if (error == HPE_PAUSED_UPGRADE) {
    // llhttp pauses after a message that switches protocols. A request
    // waits for the verdict of its response; a response that switched has
    // already stopped the connection.
    data.remove_prefix(parsed);
    if (kind_ == StreamKind::kRequests) {
      state_ = State::kAwaitingUpgrade;
      awaiting_dropped_bytes_ = !data.empty();
    } else {
      Stop();
    }
    data = {};
    return;
  }
  // llhttp begins a message on any byte but CR and LF; libhttp-parser only
  // on one that can start a method or a status line. A message that failed
  // on its very first byte (after a line end, with no method bytes seen) is
  // stray bytes, not a request that will get an answer or a lost response.
  bool failed_on_first_byte =
      !method_seen_ && (parsed == 0 || data[parsed - 1] == '\n' || data[parsed - 1] == '\r');
  if (failed_on_first_byte && !headers_complete_) in_message_ = false;
  if (head_overflow_) {
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
  // Without Content-Length the body runs to the end of the stream.
  return !(parser_.flags & F_CONTENT_LENGTH) || parser_.content_length >= length;
}

void DirectionParser::FeedZeros(uint64_t length, const SegmentMeta& meta) {
  // Body bytes are never inspected, only counted: stand-in bytes keep
  // llhttp's framing state exact across the hole.
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
  bool known = length != kUnknownLength;
  if (known) stats_->gap_bytes += length;
  last_data_ns_ = meta.timestamp_ns;
  last_tid_ = meta.tid;
  last_async_task_ = meta.async_task;
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
  if (known && in_message_ && headers_complete_) {
    if (BodySkippable(length)) {
      ++stats_->gaps_skipped_in_body;
      FeedZeros(length, meta);
      return;
    }
    if (!(parser_.flags & F_CHUNKED) && (parser_.flags & F_CONTENT_LENGTH)) {
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
  EnterResync(true);
}

void DirectionParser::Finish(bool eof) {
  if (state_ == State::kParsing && in_message_ && eof) {
    SegmentMeta meta{last_data_ns_, last_tid_, nullptr, false, last_async_task_};
    meta_ = &meta;
    llhttp_finish(&parser_);  // end of stream: completes a body delimited by the close
    meta_ = nullptr;
  }
  if (state_ == State::kParsing && in_message_) AbandonMessage(/*malformed=*/false);
  Stop();
}

void DirectionParser::ResumeAfterRefusedUpgrade() {
  if (state_ != State::kAwaitingUpgrade) return;
  if (awaiting_dropped_bytes_) {
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

}  // namespace weft::http1
