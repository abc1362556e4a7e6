#include "agent/conn/connection_tracker.h"

#include <utility>

namespace weft {

static_assert(kUnknownGapLength == http1::DirectionParser::kUnknownLength);

ConnectionTracker::ConnectionTracker(TrackerOptions options, http1::ExchangeSink sink)
    : options_(std::move(options)), sink_(std::move(sink)) {
  if (options_.max_connections == 0) options_.max_connections = 1;
  if (options_.http.max_pending_requests == 0) options_.http.max_pending_requests = 1;
}

ConnectionTracker::Connection& ConnectionTracker::FindOrCreate(const DataEvent& event) {
  auto found = index_.find(event.conn_id);
  if (found != index_.end()) {
    auto it = found->second;
    if (it != lru_.begin()) lru_.splice(lru_.begin(), lru_, it);
    return *it;
  }
  if (index_.size() >= options_.max_connections) {
    auto victim = std::prev(lru_.end());
    victim->http.Discard();
    ++stats_.connections_evicted;
    Remove(victim);
  }
  lru_.emplace_front(event.conn_id, &options_.http, &stats_.http, &ids_, &sink_, &scratch_);
  index_.emplace(event.conn_id, lru_.begin());
  ++stats_.connections_opened;
  Connection& conn = lru_.front();
  conn.http.info().conn_id = event.conn_id;
  conn.http.info().tuple = event.tuple;
  return conn;
}

void ConnectionTracker::Remove(ConnectionList::iterator it) {
  index_.erase(it->conn_id);
  lru_.erase(it);
}

void ConnectionTracker::OnData(const DataEvent& event, uint64_t async_task) {
  ++stats_.data_events;
  stats_.stream_bytes += event.total_len;
  stats_.captured_bytes += event.data.size();
  Connection& conn = FindOrCreate(event);
  conn.last_activity_ns = event.timestamp_ns;
  conn.http.info().tgid = event.tgid;
  if (event.tls) conn.http.info().tls = true;
  if (!conn.role_known && event.role != Role::kUnknown) {
    conn.http.SetRole(event.role);
    conn.role_known = true;
  }
  if (conn.http.done()) {
    ++stats_.events_ignored;
    return;
  }
  StreamPosition& position = event.direction == Direction::kEgress ? conn.egress : conn.ingress;
  Placement placed = position.Place(event);
  stats_.overlap_bytes += placed.overlap;
  http1::SegmentMeta meta{event.timestamp_ns, event.tid, &event.context, false, async_task};
  if (placed.gap_before > 0) conn.http.OnGap(event.direction, placed.gap_before, meta);
  if (!placed.data.empty()) {
    meta.at_event_start = placed.data_at_event_start;
    conn.http.OnData(event.direction, placed.data, meta);
    meta.at_event_start = false;
  }
  if (placed.gap_after > 0) conn.http.OnGap(event.direction, placed.gap_after, meta);
}

void ConnectionTracker::OnClose(const CloseEvent& event) {
  ++stats_.close_events;
  auto found = index_.find(event.conn_id);
  if (found == index_.end()) return;
  auto it = found->second;
  it->http.Close(event.reset ? http1::ExchangeError::kConnectionReset
                             : http1::ExchangeError::kConnectionClosed,
                 event.timestamp_ns);
  ++stats_.connections_closed;
  Remove(it);
}

void ConnectionTracker::OnProcessExit(uint32_t tgid, uint64_t timestamp_ns) {
  for (auto it = lru_.begin(); it != lru_.end();) {
    auto next = std::next(it);
    if (it->http.info().tgid == tgid) {
      uint64_t when = timestamp_ns != 0 ? timestamp_ns : it->last_activity_ns;
      it->http.Close(http1::ExchangeError::kProcessExited, when);
      ++stats_.connections_exited;
      Remove(it);
    }
    it = next;
  }
}

void ConnectionTracker::Expire(uint64_t now_monotonic_ns) {
  while (!lru_.empty()) {
    auto oldest = std::prev(lru_.end());
    if (oldest->last_activity_ns + options_.idle_timeout_ns > now_monotonic_ns) break;
    oldest->http.Close(http1::ExchangeError::kTimeout, now_monotonic_ns);
    ++stats_.connections_expired;
    Remove(oldest);
  }
}

void VisitCounters(const TrackerStats& s,
                   const std::function<void(std::string_view, uint64_t)>& visit) {
  visit("data_events", s.data_events);
  visit("close_events", s.close_events);
  visit("stream_bytes", s.stream_bytes);
  visit("captured_bytes", s.captured_bytes);
  visit("overlap_bytes", s.overlap_bytes);
  visit("events_ignored", s.events_ignored);
  visit("connections_opened", s.connections_opened);
  visit("connections_closed", s.connections_closed);
  visit("connections_evicted", s.connections_evicted);
  visit("connections_expired", s.connections_expired);
  visit("connections_exited", s.connections_exited);
  const http1::Http1Stats& h = s.http;
  visit("http.requests", h.requests);
  visit("http.responses", h.responses);
  visit("http.informational_responses", h.informational_responses);
  visit("http.exchanges", h.exchanges);
  visit("http.exchanges_with_error", h.exchanges_with_error);
  visit("http.parse_errors", h.parse_errors);
  visit("http.parse_error_method", h.parse_error_method);
  visit("http.parse_error_start_line", h.parse_error_start_line);
  visit("http.parse_error_header", h.parse_error_header);
  visit("http.parse_error_body", h.parse_error_body);
  visit("http.parse_error_other", h.parse_error_other);
  visit("http.buffer_overflows", h.buffer_overflows);
  visit("http.gaps", h.gaps);
  visit("http.gap_bytes", h.gap_bytes);
  visit("http.gaps_skipped_in_body", h.gaps_skipped_in_body);
  visit("http.resyncs", h.resyncs);
  visit("http.resync_bytes_skipped", h.resync_bytes_skipped);
  visit("http.incomplete_messages", h.incomplete_messages);
  visit("http.unmatched_responses", h.unmatched_responses);
  visit("http.requests_dropped", h.requests_dropped);
  visit("http.pending_overflows", h.pending_overflows);
  visit("http.upgrades", h.upgrades);
  visit("http.non_http_streams", h.non_http_streams);
}

}  // namespace weft
