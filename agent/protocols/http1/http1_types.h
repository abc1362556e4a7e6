// Values the HTTP/1.x parser hands to stitching and span building.
// Strings are reused across messages (cleared, not freed) so a steady stream
// of exchanges allocates nothing once capacities have grown.
#pragma once

#include <cstdint>
#include <functional>
#include <string>
#include <string_view>

#include "absl/random/random.h"
#include "agent/events/event.h"

namespace weft::http1 {

// Why an exchange ended without a complete response (exported as error.type).
enum class ExchangeError : uint8_t {
  kNone = 0,
  kConnectionReset,   // RST / abortive close before the response completed
  kConnectionClosed,  // orderly close before the response completed
  kProcessExited,     // the traced process exited with the request outstanding
  kTimeout,           // the connection went idle with the request outstanding
};
std::string_view ToString(ExchangeError e);

// Which side of the exchange the traced process is.
enum class ExchangeKind : uint8_t {
  kServer,  // the process received the request
  kClient,  // the process sent the request
};

struct HttpRequest {
  uint8_t method = 0;  // enum http_method
  uint8_t version_major = 1;
  uint8_t version_minor = 1;
  std::string target;  // request-target as sent (origin-form or absolute-form), capped
  std::string host;
  std::string user_agent;
  std::string traceparent;
  std::string tracestate;
  std::string content_type;
  bool target_truncated = false;
  uint64_t body_size = 0;
  bool body_size_known = true;  // false when a gap or error cut the body
  bool upgrade = false;         // Upgrade / CONNECT: the connection may switch protocols
  bool placeholder = false;     // stands for a malformed request that still gets a response
  uint64_t start_ns = 0;        // monotonic time of the event with the first byte
  uint64_t end_ns = 0;          // monotonic time of the event with the last byte
  uint64_t async_task = 0;      // asyncio context generation that sent the first byte (0: none)
  uint32_t tid = 0;             // thread that moved the first byte
  TraceContext context;         // adopted from the kernel, or generated
  bool context_from_kernel = false;

  // Resets every field, keeping string capacities.
  void Clear();
  // Exchanges contents with `other` (strings swap buffers, no allocation).
  // Field by field: a new field must be added here and to Clear().
  void SwapWith(HttpRequest& other);
};

struct HttpResponse {
  uint16_t status_code = 0;
  uint8_t version_major = 1;
  uint8_t version_minor = 1;
  std::string content_type;
  uint64_t body_size = 0;
  bool body_size_known = true;
  bool complete = true;  // false when the connection ended inside the body
  uint64_t start_ns = 0;
  uint64_t end_ns = 0;
  uint32_t tid = 0;         // thread that moved the first byte
  uint64_t async_task = 0;  // asyncio context generation that sent the first byte (0: none)

  // Resets every field, keeping the string's capacity.
  void Clear();
  // Field by field: a new field must be added here and to Clear().
  void SwapWith(HttpResponse& other);
};

struct HttpExchange {
  uint64_t conn_id = 0;
  uint32_t tgid = 0;
  Tuple tuple;       // as seen from the traced process
  bool tls = false;  // carried over TLS: url.scheme https
  ExchangeKind kind = ExchangeKind::kServer;
  HttpRequest request;
  bool has_response = false;
  HttpResponse response;
  ExchangeError error = ExchangeError::kNone;
  uint64_t end_ns = 0;  // last response byte, or when the error was observed
};

using ExchangeSink = std::function<void(const HttpExchange&)>;

// Counters of everything the HTTP/1 layer dropped, skipped or produced.
struct Http1Stats {
  uint64_t requests = 0;                 // complete request heads parsed
  uint64_t responses = 0;                // final responses parsed
  uint64_t informational_responses = 0;  // 1xx other than 101, not paired
  uint64_t exchanges = 0;                // handed to the sink
  uint64_t exchanges_with_error = 0;     // of those, ended by close/reset/exit/timeout
  uint64_t parse_errors = 0;             // all malformed-input errors, by reason below
  uint64_t parse_error_method = 0;       // unknown or malformed method
  uint64_t parse_error_start_line = 0;   // bad version, status code or request-target
  uint64_t parse_error_header = 0;       // bad header syntax or Content-Length
  uint64_t parse_error_body = 0;         // bad chunk framing
  uint64_t parse_error_other = 0;
  uint64_t buffer_overflows = 0;  // message heads larger than the per-message cap
  uint64_t gaps = 0;              // holes in a byte stream (lost / truncated / size-only)
  uint64_t gap_bytes = 0;
  uint64_t gaps_skipped_in_body = 0;  // holes inside a body of known extent: no resync
  uint64_t resyncs = 0;               // parsing restarted at a found message start
  uint64_t resync_bytes_skipped = 0;  // bytes discarded while looking for a message start
  uint64_t incomplete_messages = 0;   // heads seen, body cut by a gap, error or close
  uint64_t unmatched_responses = 0;   // responses with no request to pair with
  uint64_t requests_dropped = 0;      // requests that can never get a span
  uint64_t pending_overflows = 0;     // of those, pushed out of a full pipeline queue
  uint64_t upgrades = 0;              // connections that switched protocols (101 / CONNECT)
  uint64_t non_http_streams = 0;      // connections given up as not HTTP/1
};

// Fresh ids for requests whose first byte carried no kernel context.
class IdGenerator {
 public:
  IdGenerator() = default;
  TraceContext NewRootContext();

 private:
  absl::InsecureBitGen gen_;
};

}  // namespace weft::http1
