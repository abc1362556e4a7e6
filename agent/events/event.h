// Decoded kernel events: the C++ view of bpf/capture.h records.
// A DataEvent's `data` views the ring buffer record and is valid only while
// the event is being handled; stages that keep bytes copy them.
#pragma once

#include <array>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <variant>

#include "absl/status/statusor.h"
#include "agent/model/span.h"

namespace weft {

enum class Direction : uint8_t { kEgress = 0, kIngress = 1 };
enum class Role : uint8_t { kUnknown = 0, kClient = 1, kServer = 2 };
enum class LinkSource : uint8_t {
  kNone = 0,
  kThread = 1,
  kPeerSocket = 2,
  kTraceparent = 3,
  kAmbiguous = 4,  // the thread interleaves requests: no parent is given
  kGoroutine = 5,  // Go: the request of the goroutine that sent (or handed over) it
  kProxyTurn = 6,  // an event-loop proxy worker forwarding the request it is handling
  kNodeAsync = 7,  // Node.js: the request the program's async context names (agent/nodejs)
};

// Mirrors enum weft_source.
enum class Source : uint8_t {
  kUnknown = 0,
  kRead,
  kWrite,
  kReadv,
  kWritev,
  kRecvfrom,
  kSendto,
  kRecvmsg,
  kSendmsg,
  kRecvmmsg,
  kSendmmsg,
  kSendfile,
  kSplice,
  kIoUring,
  kSslRead,   // plaintext returned by SSL_read / SSL_read_ex
  kSslWrite,  // plaintext passed to SSL_write / SSL_write_ex
};

std::string_view ToString(Direction d);
std::string_view ToString(Role r);
std::string_view ToString(Source s);
std::string_view ToString(LinkSource s);

struct Endpoint {
  std::array<uint8_t, 16> addr{};
  uint16_t port = 0;
};

struct Tuple {
  int family = 0;  // AF_INET / AF_INET6
  Endpoint local;
  Endpoint remote;

  std::string LocalAddress() const;  // "127.0.0.1" / "::1"
  std::string RemoteAddress() const;
};

struct TraceContext {
  TraceId trace_id{};
  SpanId span_id{};
  SpanId parent_span_id{};
  uint8_t trace_flags = 0;
  LinkSource link_source = LinkSource::kNone;
  bool starts_span = false;  // this event holds the first byte of a request

  bool valid() const { return !IsZero(trace_id) && !IsZero(span_id); }
};

struct DataEvent {
  uint64_t timestamp_ns = 0;  // CLOCK_MONOTONIC
  uint32_t tgid = 0;
  uint32_t tid = 0;
  uint64_t conn_id = 0;
  int32_t fd = -1;
  uint32_t seq = 0;
  uint32_t total_len = 0;
  Direction direction = Direction::kEgress;
  Role role = Role::kUnknown;
  Source source = Source::kUnknown;
  bool truncated = false;     // data holds fewer bytes than total_len (capture limit)
  bool body_skipped = false;  // only the message head was copied: the rest is declared body
  bool size_only = false;     // no bytes could be captured
  bool has_seq = true;
  bool tls = false;  // plaintext of a TLS connection; seq is the plaintext offset
  Tuple tuple;
  TraceContext context;
  // Egress of a CPython process whose asyncio contexts weft reads: address of
  // the sending thread's current contextvars.Context (bpf/py_async.h); else 0.
  uint64_t async_context = 0;
  std::string_view data;
};

struct CloseEvent {
  uint64_t timestamp_ns = 0;
  uint32_t tgid = 0;
  uint32_t tid = 0;
  uint64_t conn_id = 0;
  Role role = Role::kUnknown;
  bool reset = false;
  Tuple tuple;
  uint64_t bytes_sent = 0;
  uint64_t bytes_received = 0;
};

struct ProcessEvent {
  enum class Kind : uint8_t { kFork, kExit };
  Kind kind = Kind::kFork;
  uint64_t timestamp_ns = 0;
  uint32_t tgid = 0;
  uint32_t tid = 0;
  uint32_t parent_tgid = 0;
  int32_t exit_code = 0;
};

// A CPython thread copied its current contextvars.Context (`parent`) into a
// new one (`child`), e.g. for a new asyncio task. Addresses; CPython reuses
// freed contexts, so `child` names a new context from this event on.
struct AsyncContextEvent {
  uint64_t timestamp_ns = 0;
  uint32_t tgid = 0;
  uint32_t tid = 0;
  uint64_t parent = 0;
  uint64_t child = 0;
};

using Event = std::variant<DataEvent, CloseEvent, ProcessEvent, AsyncContextEvent>;

// Decodes one ring-buffer record. Malformed records (short, unknown kind,
// captured_len beyond the record) are an error, never a crash.
absl::StatusOr<Event> DecodeEvent(std::string_view record);

}  // namespace weft
