#include "agent/events/event.h"

#include <arpa/inet.h>
#include <sys/socket.h>

#include <cstring>

#include "absl/strings/str_format.h"
#include "bpf/capture.h"
#include "bpf/py_async.h"

namespace weft {

std::string_view ToString(Direction d) { return d == Direction::kEgress ? "egress" : "ingress"; }

std::string_view ToString(Role r) {
  switch (r) {
    case Role::kClient:
      return "client";
    case Role::kServer:
      return "server";
    default:
      return "unknown";
  }
}

std::string_view ToString(Source s) {
  static constexpr std::string_view kNames[] = {
      "unknown", "read",     "write",    "readv",    "writev", "recvfrom", "sendto",   "recvmsg",
      "sendmsg", "recvmmsg", "sendmmsg", "sendfile", "splice", "io_uring", "ssl_read", "ssl_write"};
  auto i = static_cast<size_t>(s);
  return i < std::size(kNames) ? kNames[i] : "unknown";
}

std::string_view ToString(LinkSource s) {
  switch (s) {
    case LinkSource::kThread:
      return "thread";
    case LinkSource::kPeerSocket:
      return "peer-socket";
    case LinkSource::kTraceparent:
      return "traceparent";
    case LinkSource::kAmbiguous:
      return "ambiguous";
    case LinkSource::kGoroutine:
      return "goroutine";
    case LinkSource::kProxyTurn:
      return "proxy-turn";
    case LinkSource::kNodeAsync:
      return "node-async";
    default:
      return "none";
  }
}

namespace {

std::string FormatAddress(int family, const std::array<uint8_t, 16>& addr) {
  char buf[INET6_ADDRSTRLEN] = {};
  if (family == AF_INET) {
    inet_ntop(AF_INET, addr.data(), buf, sizeof(buf));
  } else if (family == AF_INET6) {
    inet_ntop(AF_INET6, addr.data(), buf, sizeof(buf));
  } else {
    return "";
  }
  return buf;
}

Tuple DecodeTuple(const weft_tuple& t) {
  Tuple out;
  out.family = t.family;
  std::memcpy(out.local.addr.data(), t.local_addr, 16);
  std::memcpy(out.remote.addr.data(), t.remote_addr, 16);
  out.local.port = t.local_port;
  out.remote.port = t.remote_port;
  return out;
}

TraceContext DecodeContext(const weft_trace_context& c) {
  TraceContext out;
  std::memcpy(out.trace_id.data(), c.trace_id, 16);
  std::memcpy(out.span_id.data(), c.span_id, 8);
  std::memcpy(out.parent_span_id.data(), c.parent_span_id, 8);
  out.trace_flags = c.trace_flags;
  out.link_source = c.link_source <= WEFT_LINK_SOURCE_MAX ? static_cast<LinkSource>(c.link_source)
                                                          : LinkSource::kNone;
  out.starts_span = c.starts_span != 0;
  return out;
}

template <typename T>
T Load(std::string_view record) {
  T value;
  std::memcpy(&value, record.data(), sizeof(T));
  return value;
}

}  // namespace

std::string Tuple::LocalAddress() const { return FormatAddress(family, local.addr); }
std::string Tuple::RemoteAddress() const { return FormatAddress(family, remote.addr); }

absl::StatusOr<Event> DecodeEvent(std::string_view record) {
  if (record.size() < sizeof(weft_event_header)) {
    return absl::InvalidArgumentError(
        absl::StrFormat("event record of %d bytes is shorter than its header", record.size()));
  }
  auto header = Load<weft_event_header>(record);
  switch (header.kind) {
    case WEFT_EVENT_DATA: {
      if (record.size() < sizeof(weft_data_event)) {
        return absl::InvalidArgumentError("data event record is truncated");
      }
      // data[] is a flexible array member; copy the fixed part only.
      weft_data_event raw;
      std::memcpy(&raw, record.data(), sizeof(raw));
      if (raw.captured_len > record.size() - sizeof(weft_data_event)) {
        return absl::InvalidArgumentError(
            absl::StrFormat("data event claims %d captured bytes but the record holds %d",
                            raw.captured_len, record.size() - sizeof(weft_data_event)));
      }
      DataEvent ev;
      ev.timestamp_ns = header.timestamp_ns;
      ev.tgid = header.tgid;
      ev.tid = header.tid;
      ev.conn_id = raw.conn_id;
      ev.fd = raw.fd;
      ev.seq = raw.seq;
      ev.total_len = raw.total_len;
      ev.direction = raw.direction == WEFT_DIR_INGRESS ? Direction::kIngress : Direction::kEgress;
      ev.role = raw.role <= WEFT_ROLE_SERVER ? static_cast<Role>(raw.role) : Role::kUnknown;
      ev.source = raw.source < WEFT_SRC_MAX ? static_cast<Source>(raw.source) : Source::kUnknown;
      ev.truncated = raw.flags & WEFT_DATA_TRUNCATED;
      ev.size_only = raw.flags & WEFT_DATA_SIZE_ONLY;
      ev.has_seq = !(raw.flags & WEFT_DATA_NO_SEQ);
      ev.tls = raw.flags & WEFT_DATA_TLS;
      ev.body_skipped = raw.flags & WEFT_DATA_BODY_SKIPPED;
      ev.tuple = DecodeTuple(raw.tuple);
      ev.context = DecodeContext(raw.context);
      ev.async_context = raw.async_context;
      ev.data = record.substr(sizeof(weft_data_event), raw.captured_len);
      return ev;
    }
    case WEFT_EVENT_CLOSE: {
      if (record.size() < sizeof(weft_close_event)) {
        return absl::InvalidArgumentError("close event record is truncated");
      }
      auto raw = Load<weft_close_event>(record);
      CloseEvent ev;
      ev.timestamp_ns = header.timestamp_ns;
      ev.tgid = header.tgid;
      ev.tid = header.tid;
      ev.conn_id = raw.conn_id;
      ev.role = raw.role <= WEFT_ROLE_SERVER ? static_cast<Role>(raw.role) : Role::kUnknown;
      ev.reset = raw.reset != 0;
      ev.tuple = DecodeTuple(raw.tuple);
      ev.bytes_sent = raw.bytes_sent;
      ev.bytes_received = raw.bytes_received;
      return ev;
    }
    case WEFT_EVENT_PROCESS_FORK:
    case WEFT_EVENT_PROCESS_EXIT: {
      if (record.size() < sizeof(weft_process_event)) {
        return absl::InvalidArgumentError("process event record is truncated");
      }
      auto raw = Load<weft_process_event>(record);
      ProcessEvent ev;
      ev.kind = header.kind == WEFT_EVENT_PROCESS_FORK ? ProcessEvent::Kind::kFork
                                                       : ProcessEvent::Kind::kExit;
      ev.timestamp_ns = header.timestamp_ns;
      ev.tgid = header.tgid;
      ev.tid = header.tid;
      ev.parent_tgid = raw.parent_tgid;
      ev.exit_code = raw.exit_code;
      return ev;
    }
    case WEFT_EVENT_ASYNC_CONTEXT: {
      if (record.size() < sizeof(weft_async_context_event)) {
        return absl::InvalidArgumentError("async context event record is truncated");
      }
      auto raw = Load<weft_async_context_event>(record);
      AsyncContextEvent ev;
      ev.timestamp_ns = header.timestamp_ns;
      ev.tgid = header.tgid;
      ev.tid = header.tid;
      ev.parent = raw.parent;
      ev.child = raw.child;
      return ev;
    }
    default:
      return absl::InvalidArgumentError(absl::StrFormat("unknown event kind %d", header.kind));
  }
}

}  // namespace weft
