// One direction of one connection: bytes in stream order (with holes) in,
// complete HTTP/1.x messages out. Wraps llhttp, which is streaming, so
// no byte is copied except the few header values spans need.
#pragma once

#include <llhttp.h>

#include <array>
#include <cstdint>
#include <string_view>

#include "agent/events/event.h"
#include "agent/protocols/http1/http1_types.h"
#include "agent/protocols/http1/message_start.h"

namespace weft::http1 {

struct ParserOptions {
  // Largest request/status line + headers of one message; a bigger head is
  // dropped (buffer_overflows) and parsing resyncs at the next message.
  size_t max_head_bytes = 64 * 1024;
  size_t max_target_bytes = 8 * 1024;  // request-target bytes kept for url.* attributes
  size_t max_header_value_bytes = 1024;
  size_t max_pending_requests = 64;  // unanswered (pipelined) requests per connection
  // Bytes scanned without ever finding an HTTP/1 message before a
  // connection is declared not HTTP and ignored.
  size_t non_http_scan_limit = 256 * 1024;
};

enum class StreamKind : uint8_t { kUnknown, kRequests, kResponses };

// Where the bytes handed to Feed came from.
struct SegmentMeta {
  uint64_t timestamp_ns = 0;
  uint32_t tid = 0;
  const TraceContext* context = nullptr;  // the event's kernel context, if any
  bool at_event_start = false;            // the bytes begin at the event's first byte
  uint64_t async_task = 0;                // asyncio context generation of the sender (0: none)
};

// What a DirectionParser reports to its connection (the stitcher).
class DirectionListener {
 public:
  virtual ~DirectionListener() = default;
  // A stream of unknown kind found its first message: it carries `kind`.
  virtual void OnKindDiscovered(class DirectionParser& parser, StreamKind kind) = 0;
  virtual void OnRequest(HttpRequest& request) = 0;
  // Returns the llhttp on_headers_complete verdict: 0 parse the body,
  // 1 no body (answer to HEAD), 2 no body and the connection switches protocols.
  virtual int OnResponseHead(const HttpResponse& response) = 0;
  virtual void OnResponse(HttpResponse& response) = 0;
  // Bytes of this stream were lost where a message may have been: later
  // responses may not line up with queued requests.
  virtual void OnAlignmentLost() = 0;
  // Scanned too far without finding HTTP/1.
  virtual void OnNotHttp() = 0;
};

class DirectionParser {
 public:
  DirectionParser(const ParserOptions* options, Http1Stats* stats, IdGenerator* ids,
                  DirectionListener* listener);
  DirectionParser(const DirectionParser&) = delete;
  DirectionParser& operator=(const DirectionParser&) = delete;

  // Restricts what the next resync accepts. Only while the kind is unknown.
  void SetKind(StreamKind kind);
  StreamKind kind() const { return kind_; }

  void Feed(std::string_view data, const SegmentMeta& meta);
  // `length` bytes of the stream are missing here; kUnknownLength: some.
  void Gap(uint64_t length, const SegmentMeta& meta);
  static constexpr uint64_t kUnknownLength = ~uint64_t{0};
  // The stream ended. With `eof` (the peer closed) a body delimited by the
  // close completes; otherwise (given up) it does not. A message cut short is
  // reported as incomplete when its head was seen.
  void Finish(bool eof);
  // Ignore everything from now on (protocol switched, or not HTTP).
  void Stop() { state_ = State::kStopped; }
  bool stopped() const { return state_ == State::kStopped; }
  // The request that asked to switch protocols was refused: parse again.
  void ResumeAfterRefusedUpgrade();

  // A request whose head is parsed but whose body is still arriving, or null.
  const HttpRequest* RequestInProgress() const;
  // Its response came early (e.g. 401 / 417 instead of 100 Continue): it has
  // been paired already, so it is not reported again when it completes.
  void MarkAnsweredEarly() { answered_early_ = true; }

 private:
  enum class State : uint8_t { kResync, kParsing, kAwaitingUpgrade, kStopped };
  enum class Capture : uint8_t {
    kNone,
    kHost,
    kUserAgent,
    kTraceparent,
    kTracestate,
    kContentType
  };

  // Scans `data` for a message start; returns how many bytes to drop before
  // it (all of them when there is none). May switch to kParsing.
  size_t Resync(std::string_view data, const SegmentMeta& meta);
  bool TryCarry(std::string_view& data, const SegmentMeta& meta);
  void StartParsing(StreamKind kind);
  void EnterResync(bool next_byte_may_start);
  void ResetParser(StreamKind kind);
  void Execute(std::string_view& data, const SegmentMeta& meta, bool at_event_start);
  void AbandonMessage(bool malformed);
  bool BodySkippable(uint64_t length) const;
  void FeedZeros(uint64_t length, const SegmentMeta& meta);
  bool AddHeadBytes(size_t n);
  Capture ClassifyField() const;

  static int CbMessageBegin(llhttp_t* p);
  static int CbMethod(llhttp_t* p, const char* at, size_t length);
  static int CbUrl(llhttp_t* p, const char* at, size_t length);
  static int CbStatus(llhttp_t* p, const char* at, size_t length);
  static int CbHeaderField(llhttp_t* p, const char* at, size_t length);
  static int CbHeaderValue(llhttp_t* p, const char* at, size_t length);
  static int CbHeadersComplete(llhttp_t* p);
  static int CbBody(llhttp_t* p, const char* at, size_t length);
  static int CbMessageComplete(llhttp_t* p);
  static int CbChunkHeader(llhttp_t* p);
  static int CbChunkComplete(llhttp_t* p);
  static const llhttp_settings_t& Settings();

  const ParserOptions* options_;
  Http1Stats* stats_;
  IdGenerator* ids_;
  DirectionListener* listener_;

  State state_ = State::kResync;
  StreamKind kind_ = StreamKind::kUnknown;
  llhttp_t parser_{};
  const SegmentMeta* meta_ = nullptr;  // the segment being executed (callbacks read it)
  uint64_t last_data_ns_ = 0;
  uint32_t last_tid_ = 0;
  uint64_t last_async_task_ = 0;

  // Message in progress.
  bool in_message_ = false;
  bool headers_complete_ = false;
  bool in_chunk_data_ = false;
  bool head_overflow_ = false;
  bool bad_status_ = false;
  bool answered_early_ = false;
  bool zero_offset_candidate_ = false;  // the next message_begin is at event offset 0
  bool method_seen_ = false;            // llhttp reported method bytes of this message
  size_t head_bytes_ = 0;
  HttpRequest request_;
  HttpResponse response_;

  // Header name being matched, as received (case folded when classified);
  // longer names never matter.
  std::array<char, 16> field_{};
  size_t field_length_ = 0;
  bool last_was_value_ = true;
  Capture capture_ = Capture::kNone;

  // Resync state.
  bool ever_synced_ = false;
  bool next_byte_may_start_ = true;
  uint64_t scanned_unsynced_ = 0;
  std::array<char, kMaxStartProbe> carry_{};
  size_t carry_length_ = 0;
  uint64_t carry_ns_ = 0;
  uint32_t carry_tid_ = 0;
  uint64_t carry_async_task_ = 0;
  bool awaiting_dropped_bytes_ = false;
};

}  // namespace weft::http1
