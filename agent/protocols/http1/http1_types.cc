#include "agent/protocols/http1/http1_types.h"

#include <cstring>
#include <utility>

namespace weft::http1 {

std::string_view ToString(ExchangeError e) {
  switch (e) {
    case ExchangeError::kConnectionReset:
      return "connection_reset";
    case ExchangeError::kConnectionClosed:
      return "connection_closed";
    case ExchangeError::kProcessExited:
      return "process_exited";
    case ExchangeError::kTimeout:
      return "timeout";
    default:
      return "";
  }
}

void HttpRequest::Clear() {
  method = 0;
  version_major = 1;
  version_minor = 1;
  target.clear();
  host.clear();
  user_agent.clear();
  traceparent.clear();
  tracestate.clear();
  content_type.clear();
  target_truncated = false;
  body_size = 0;
  body_size_known = true;
  upgrade = false;
  placeholder = false;
  start_ns = 0;
  end_ns = 0;
  tid = 0;
  context = TraceContext{};
  context_from_kernel = false;
}

void HttpRequest::SwapWith(HttpRequest& other) {
  using std::swap;
  swap(*this, other);
}

void HttpResponse::Clear() {
  status_code = 0;
  version_major = 1;
  version_minor = 1;
  content_type.clear();
  body_size = 0;
  body_size_known = true;
  complete = true;
  start_ns = 0;
  end_ns = 0;
  tid = 0;
}

void HttpResponse::SwapWith(HttpResponse& other) {
  using std::swap;
  swap(*this, other);
}

TraceContext IdGenerator::NewRootContext() {
  TraceContext ctx;
  // Zero ids are invalid in W3C Trace Context; redraw in the (astronomically rare) case.
  do {
    uint64_t hi = absl::Uniform<uint64_t>(gen_);
    uint64_t lo = absl::Uniform<uint64_t>(gen_);
    std::memcpy(ctx.trace_id.data(), &hi, 8);
    std::memcpy(ctx.trace_id.data() + 8, &lo, 8);
  } while (IsZero(ctx.trace_id));
  do {
    uint64_t id = absl::Uniform<uint64_t>(gen_);
    std::memcpy(ctx.span_id.data(), &id, 8);
  } while (IsZero(ctx.span_id));
  ctx.trace_flags = 1;
  ctx.link_source = LinkSource::kNone;
  return ctx;
}

}  // namespace weft::http1
