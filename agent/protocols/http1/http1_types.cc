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
  async_task = 0;
  context = TraceContext{};
  context_from_kernel = false;
}

// Member by member, in step with Clear(): std::swap of the whole struct
// would move every string three times (twice per exchange on the hot path).
// The sizes catch a field added without its swap (LP64 with libstdc++).
static_assert(sizeof(void*) != 8 || sizeof(HttpRequest) == 288,
              "HttpRequest changed: update SwapWith, Clear and this size");
static_assert(sizeof(void*) != 8 || sizeof(HttpResponse) == 88,
              "HttpResponse changed: update SwapWith, Clear and this size");
void HttpRequest::SwapWith(HttpRequest& other) {
  using std::swap;
  swap(method, other.method);
  swap(version_major, other.version_major);
  swap(version_minor, other.version_minor);
  target.swap(other.target);
  host.swap(other.host);
  user_agent.swap(other.user_agent);
  traceparent.swap(other.traceparent);
  tracestate.swap(other.tracestate);
  content_type.swap(other.content_type);
  swap(target_truncated, other.target_truncated);
  swap(body_size, other.body_size);
  swap(body_size_known, other.body_size_known);
  swap(upgrade, other.upgrade);
  swap(placeholder, other.placeholder);
  swap(start_ns, other.start_ns);
  swap(end_ns, other.end_ns);
  swap(tid, other.tid);
  swap(async_task, other.async_task);
  swap(context, other.context);
  swap(context_from_kernel, other.context_from_kernel);
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
  async_task = 0;
}

void HttpResponse::SwapWith(HttpResponse& other) {
  using std::swap;
  swap(status_code, other.status_code);
  swap(version_major, other.version_major);
  swap(version_minor, other.version_minor);
  content_type.swap(other.content_type);
  swap(body_size, other.body_size);
  swap(body_size_known, other.body_size_known);
  swap(complete, other.complete);
  swap(start_ns, other.start_ns);
  swap(end_ns, other.end_ns);
  swap(tid, other.tid);
  swap(async_task, other.async_task);
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
