#include "agent/events/event_json.h"

#include <time.h>

#include "nlohmann/json.hpp"

namespace weft {

namespace {

// Bytes as Latin-1 code points in UTF-8, so the JSON library escapes them
// (ensure_ascii) instead of rejecting invalid UTF-8.
std::string BytesAsLatin1(std::string_view bytes) {
  std::string out;
  out.reserve(bytes.size());
  for (unsigned char c : bytes) {
    if (c < 0x80) {
      out.push_back(static_cast<char>(c));
    } else {
      out.push_back(static_cast<char>(0xc0 | (c >> 6)));
      out.push_back(static_cast<char>(0x80 | (c & 0x3f)));
    }
  }
  return out;
}

nlohmann::json TupleJson(const Tuple& t) {
  return {{"family", t.family == 10 ? "ipv6" : "ipv4"},
          {"local_addr", t.LocalAddress()},
          {"local_port", t.local.port},
          {"remote_addr", t.RemoteAddress()},
          {"remote_port", t.remote.port}};
}

nlohmann::json ContextJson(const TraceContext& c) {
  if (!c.valid()) return nullptr;
  return {{"trace_id", ToHex(c.trace_id)},
          {"span_id", ToHex(c.span_id)},
          {"parent_span_id", IsZero(c.parent_span_id) ? "" : ToHex(c.parent_span_id)},
          {"trace_flags", c.trace_flags},
          {"link_source", ToString(c.link_source)},
          {"starts_span", c.starts_span}};
}

}  // namespace

int64_t MonotonicToUnixOffsetNs() {
  timespec mono{}, real{};
  clock_gettime(CLOCK_MONOTONIC, &mono);
  clock_gettime(CLOCK_REALTIME, &real);
  auto ns = [](const timespec& t) { return int64_t{t.tv_sec} * 1'000'000'000 + t.tv_nsec; };
  return ns(real) - ns(mono);
}

std::string EventToJson(const Event& event, int64_t offset) {
  nlohmann::json j;
  if (const auto* d = std::get_if<DataEvent>(&event)) {
    j = {{"type", "data"},
         {"time_unix_nano", static_cast<int64_t>(d->timestamp_ns) + offset},
         {"tgid", d->tgid},
         {"tid", d->tid},
         {"conn_id", d->conn_id},
         {"fd", d->fd},
         {"direction", ToString(d->direction)},
         {"role", ToString(d->role)},
         {"source", ToString(d->source)},
         {"seq", d->seq},
         {"total_len", d->total_len},
         {"captured_len", d->data.size()},
         {"truncated", d->truncated},
         {"body_skipped", d->body_skipped},
         {"size_only", d->size_only},
         {"tuple", TupleJson(d->tuple)},
         {"context", ContextJson(d->context)},
         {"async_context", d->async_context},
         {"data", BytesAsLatin1(d->data)}};
  } else if (const auto* c = std::get_if<CloseEvent>(&event)) {
    j = {{"type", "close"},
         {"time_unix_nano", static_cast<int64_t>(c->timestamp_ns) + offset},
         {"tgid", c->tgid},
         {"conn_id", c->conn_id},
         {"role", ToString(c->role)},
         {"reset", c->reset},
         {"bytes_sent", c->bytes_sent},
         {"bytes_received", c->bytes_received},
         {"tuple", TupleJson(c->tuple)}};
  } else if (const auto* p = std::get_if<ProcessEvent>(&event)) {
    j = {{"type", p->kind == ProcessEvent::Kind::kFork ? "fork" : "exit"},
         {"time_unix_nano", static_cast<int64_t>(p->timestamp_ns) + offset},
         {"tgid", p->tgid},
         {"tid", p->tid},
         {"parent_tgid", p->parent_tgid},
         {"exit_code", p->exit_code}};
  } else if (const auto* a = std::get_if<AsyncContextEvent>(&event)) {
    j = {{"type", "async_context"},
         {"time_unix_nano", static_cast<int64_t>(a->timestamp_ns) + offset},
         {"tgid", a->tgid},
         {"tid", a->tid},
         {"parent", a->parent},
         {"child", a->child}};
  }
  return j.dump(-1, ' ', /*ensure_ascii=*/true);
}

}  // namespace weft
