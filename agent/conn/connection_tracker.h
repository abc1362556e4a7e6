// Per-connection state for every traced TCP connection: stream positions for
// both directions and the HTTP/1 parser + stitcher. Bounded: the least
// recently active connection is evicted when the table is full, idle ones
// expire.
#pragma once

#include <cstdint>
#include <functional>
#include <list>
#include <string_view>

#include "absl/container/flat_hash_map.h"
#include "agent/conn/stream_position.h"
#include "agent/events/event.h"
#include "agent/protocols/http1/http1_connection.h"
#include "agent/protocols/http1/http1_types.h"

namespace weft {

struct TrackerOptions {
  size_t max_connections = 16384;
  uint64_t idle_timeout_ns = 300ull * 1000 * 1000 * 1000;
  // Per-connection limits; http.max_head_bytes (default 64 KiB) caps the
  // bytes held for one message head.
  http1::ParserOptions http;
};

struct TrackerStats {
  uint64_t data_events = 0;
  uint64_t close_events = 0;
  uint64_t stream_bytes = 0;    // bytes the traced sockets moved (total_len)
  uint64_t captured_bytes = 0;  // of those, bytes the kernel captured
  uint64_t overlap_bytes = 0;   // bytes seen twice (MSG_PEEK, replays), dropped
  uint64_t events_ignored = 0;  // on connections that switched protocols or are not HTTP
  uint64_t connections_opened = 0;
  uint64_t connections_closed = 0;
  uint64_t connections_evicted = 0;  // pushed out of a full table (LRU)
  uint64_t connections_expired = 0;  // idle longer than idle_timeout_ns
  uint64_t connections_exited = 0;   // their process exited
  http1::Http1Stats http;
};

// Calls `visit(name, value)` for every counter, names as in docs/http.md
// ("connections_evicted", "http.parse_errors", ...), for metrics and logs.
void VisitCounters(const TrackerStats& stats,
                   const std::function<void(std::string_view, uint64_t)>& visit);

// Not thread-safe: one tracker per event-reading thread. The sink runs
// synchronously inside OnData / OnClose / OnProcessExit / Expire; the exchange
// it gets is only valid during the call (copy what must be kept).
class ConnectionTracker {
 public:
  ConnectionTracker(TrackerOptions options, http1::ExchangeSink sink);
  ConnectionTracker(const ConnectionTracker&) = delete;
  ConnectionTracker& operator=(const ConnectionTracker&) = delete;

  // `async_task`: the sender's asyncio context generation (AsyncContextRegistry),
  // carried into the messages the event starts like its thread.
  void OnData(const DataEvent& event, uint64_t async_task = 0);
  void OnClose(const CloseEvent& event);
  // Ends every connection of `tgid`: waiting requests become exchanges with
  // error process_exited, ending at `timestamp_ns` (0: their last activity).
  void OnProcessExit(uint32_t tgid, uint64_t timestamp_ns = 0);
  // Ends connections idle since before now - idle_timeout_ns (error timeout).
  void Expire(uint64_t now_monotonic_ns);

  const TrackerStats& stats() const { return stats_; }
  size_t connection_count() const { return index_.size(); }

 private:
  struct Connection {
    Connection(uint64_t id, const http1::ParserOptions* options, http1::Http1Stats* stats,
               http1::IdGenerator* ids, const http1::ExchangeSink* sink,
               http1::StitchScratch* scratch)
        : conn_id(id), http(options, stats, ids, sink, scratch) {}
    uint64_t conn_id;
    uint64_t last_activity_ns = 0;
    bool role_known = false;
    StreamPosition egress;
    StreamPosition ingress;
    http1::Http1Connection http;
  };
  using ConnectionList = std::list<Connection>;

  Connection& FindOrCreate(const DataEvent& event);
  void Remove(ConnectionList::iterator it);

  TrackerOptions options_;
  http1::ExchangeSink sink_;
  TrackerStats stats_;
  http1::IdGenerator ids_;
  http1::StitchScratch scratch_;
  ConnectionList lru_;  // most recently active first; nodes never move in memory
  absl::flat_hash_map<uint64_t, ConnectionList::iterator> index_;
};

}  // namespace weft
