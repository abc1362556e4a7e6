// llhttp callbacks: message boundaries, the few header values spans
// need (copied with caps), body sizes, chunk framing for gap skipping.
#include <algorithm>
#include <cstring>

#include "agent/protocols/http1/direction_parser.h"

namespace weft::http1 {
namespace {

DirectionParser* Self(llhttp_t* p) { return static_cast<DirectionParser*>(p->data); }

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

}  // namespace

bool DirectionParser::AddHeadBytes(size_t n) {
  head_bytes_ += n;
  if (head_bytes_ > options_->max_head_bytes) {
    head_overflow_ = true;
    return false;
  }
  return true;
}

namespace {

// `name` equals `lower` (lower-case ASCII) ignoring ASCII case.
bool EqualsLowered(std::string_view name, std::string_view lower) {
  if (name.size() != lower.size()) return false;
  for (size_t i = 0; i < name.size(); ++i) {
    char c = name[i];
    if (c >= 'A' && c <= 'Z') c = static_cast<char>(c + 32);
    if (c != lower[i]) return false;
  }
  return true;
}

}  // namespace

DirectionParser::Capture DirectionParser::ClassifyField() const {
  // Most header names are none of these: their length alone rules them out.
  switch (field_length_) {
    case 4:
      return EqualsLowered({field_.data(), 4}, "host") ? Capture::kHost : Capture::kNone;
    case 10: {
      std::string_view name(field_.data(), 10);
      if (EqualsLowered(name, "user-agent")) return Capture::kUserAgent;
      if (EqualsLowered(name, "tracestate")) return Capture::kTracestate;
      return Capture::kNone;
    }
    case 11:
      return EqualsLowered({field_.data(), 11}, "traceparent") ? Capture::kTraceparent
                                                               : Capture::kNone;
    case 12:
      return EqualsLowered({field_.data(), 12}, "content-type") ? Capture::kContentType
                                                                : Capture::kNone;
    default:
      return Capture::kNone;
  }
}

int DirectionParser::CbMessageBegin(llhttp_t* p) {
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
  self->method_seen_ = false;
  // llhttp clears the body length it counted down only on its keep-alive
  // path; after a message that should have closed the connection (followed
  // anyway: lenient keep-alive) the next Content-Length's digits would add
  // to what a skipped body (HEAD, 304) left behind.
  p->content_length = 0;
  const SegmentMeta& meta = *self->meta_;
  bool at_event_start = self->zero_offset_candidate_;
  self->zero_offset_candidate_ = false;
  if (self->kind_ == StreamKind::kRequests) {
    HttpRequest& r = self->request_;
    r.Clear();
    r.start_ns = meta.timestamp_ns;
    r.tid = meta.tid;
    r.async_task = meta.async_task;
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
    self->response_.tid = meta.tid;
    self->response_.async_task = meta.async_task;
  }
  return 0;
}

int DirectionParser::CbMethod(llhttp_t* p, const char*, size_t) {
  Self(p)->method_seen_ = true;
  return 0;
}

int DirectionParser::CbUrl(llhttp_t* p, const char* at, size_t length) {
  DirectionParser* self = Self(p);
  if (!self->AddHeadBytes(length)) return HPE_USER;
  AppendCapped(self->request_.target, at, length, self->options_->max_target_bytes,
               &self->request_.target_truncated);
  return 0;
}

int DirectionParser::CbStatus(llhttp_t* p, const char*, size_t length) {
  return Self(p)->AddHeadBytes(length) ? 0 : HPE_USER;
}

int DirectionParser::CbHeaderField(llhttp_t* p, const char* at, size_t length) {
  DirectionParser* self = Self(p);
  if (!self->AddHeadBytes(length)) return HPE_USER;
  if (self->headers_complete_) return 0;  // trailers
  if (self->last_was_value_) {
    self->field_length_ = 0;
    self->last_was_value_ = false;
  }
  // Raw bytes, case folded only when classified; names longer than the
  // buffer are never captured, so their tail is only counted.
  size_t used = std::min(self->field_length_, self->field_.size());
  std::memcpy(self->field_.data() + used, at, std::min(length, self->field_.size() - used));
  self->field_length_ += length;
  return 0;
}

int DirectionParser::CbHeaderValue(llhttp_t* p, const char* at, size_t length) {
  DirectionParser* self = Self(p);
  if (!self->AddHeadBytes(length)) return HPE_USER;
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

int DirectionParser::CbHeadersComplete(llhttp_t* p) {
  DirectionParser* self = Self(p);
  if (self->kind_ == StreamKind::kResponses && (p->status_code < 100 || p->status_code > 599)) {
    // A status code has exactly three digits, 1xx to 5xx.
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

int DirectionParser::CbBody(llhttp_t* p, const char*, size_t length) {
  DirectionParser* self = Self(p);
  if (self->kind_ == StreamKind::kRequests) {
    self->request_.body_size += length;
  } else {
    self->response_.body_size += length;
  }
  return 0;
}

int DirectionParser::CbMessageComplete(llhttp_t* p) {
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

int DirectionParser::CbChunkHeader(llhttp_t* p) {
  DirectionParser* self = Self(p);
  self->in_chunk_data_ = p->content_length > 0;
  return 0;
}

int DirectionParser::CbChunkComplete(llhttp_t* p) {
  Self(p)->in_chunk_data_ = false;
  return 0;
}

}  // namespace weft::http1
