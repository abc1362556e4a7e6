// Raw data events -> exchanges -> spans -> OTLP protobuf bytes for keep-alive
// request/response pairs. Reports exchanges per second (items_per_second);
// never asserts. The OTLP stages encode batches of kOtlpBatch spans, as the
// batching exporter does: with the wire encoder the exporters use
// (OtlpWireEncoder), and, for comparison, through the protobuf message tree
// (BuildExportRequest + SerializeToString). DecodeEvent (ring-buffer record ->
// DataEvent) and the exporter's network I/O are not included.
#include <arpa/inet.h>
#include <benchmark/benchmark.h>
#include <sys/socket.h>

#include <memory>
#include <string>
#include <vector>

#include "agent/conn/connection_tracker.h"
#include "agent/spans/span_builder.h"
#include "exporters/otlp/otlp_encoder.h"
#include "exporters/otlp/otlp_wire.h"

namespace weft {
namespace {

constexpr std::string_view kRequest =
    "GET /api/v1/users/12345/orders?limit=10 HTTP/1.1\r\nHost: shop.example:8080\r\n"
    "User-Agent: wrk/4.2\r\nAccept: application/json\r\nAccept-Encoding: gzip\r\n"
    "traceparent: 00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01\r\n\r\n";
constexpr std::string_view kResponse =
    "HTTP/1.1 200 OK\r\nServer: nginx\r\nContent-Type: application/json\r\n"
    "Content-Length: 64\r\nConnection: keep-alive\r\n\r\n"
    "{\"orders\":[1,2,3,4,5,6,7,8,9,10],\"next\":null,\"total\":10,\"ok\":12}";

struct Stream {
  DataEvent request;
  DataEvent response;
};

Stream MakeStream(uint64_t conn_id) {
  Stream s;
  Tuple tuple;
  tuple.family = AF_INET;
  inet_pton(AF_INET, "10.0.0.1", tuple.local.addr.data());
  inet_pton(AF_INET, "10.0.0.2", tuple.remote.addr.data());
  tuple.local.port = 8080;
  tuple.remote.port = static_cast<uint16_t>(40000 + conn_id);
  for (DataEvent* ev : {&s.request, &s.response}) {
    ev->tgid = 100;
    ev->tid = 101;
    ev->conn_id = conn_id;
    ev->role = Role::kServer;
    ev->tuple = tuple;
  }
  s.request.direction = Direction::kIngress;
  s.request.data = kRequest;
  s.request.total_len = kRequest.size();
  s.request.seq = 1;
  s.request.context.trace_id[0] = 1;
  s.request.context.span_id[0] = 2;
  s.request.context.starts_span = true;
  s.response.direction = Direction::kEgress;
  s.response.data = kResponse;
  s.response.total_len = kResponse.size();
  s.response.seq = 1;
  return s;
}

enum class Stage { kExchanges, kSpans, kOtlpBytes, kOtlpBytesViaMessageTree };

constexpr size_t kOtlpBatch = 512;

void Drive(benchmark::State& state, Stage stage, int connections) {
  auto resource = std::make_shared<Resource>();
  resource->service_name = "bench";
  SpanBuildOptions options;
  uint64_t spans = 0;
  size_t attributes = 0;
  size_t encoded_bytes = 0;
  std::vector<Span> batch;
  std::string wire;
  OtlpWireEncoder encoder("bench");
  auto encode_batch = [&] {
    if (stage == Stage::kOtlpBytes) {
      encoder.Encode(batch, &wire);
    } else {
      opentelemetry::proto::collector::trace::v1::ExportTraceServiceRequest request;
      BuildExportRequest(batch, "bench", &request);
      request.SerializeToString(&wire);
    }
    encoded_bytes += wire.size();
    batch.clear();
  };
  const bool otlp = stage == Stage::kOtlpBytes || stage == Stage::kOtlpBytesViaMessageTree;
  http1::ExchangeSink sink;
  if (otlp) {
    batch.reserve(kOtlpBatch);
    sink = [&](const http1::HttpExchange& e) {
      batch.push_back(BuildHttpSpan(e, options, resource, 1'700'000'000'000'000'000));
      ++spans;
      if (batch.size() == kOtlpBatch) encode_batch();
    };
  } else if (stage == Stage::kSpans) {
    sink = [&](const http1::HttpExchange& e) {
      Span span = BuildHttpSpan(e, options, resource, 1'700'000'000'000'000'000);
      attributes += span.attributes.size();
      ++spans;
    };
  } else {
    sink = [&](const http1::HttpExchange&) { ++spans; };
  }
  ConnectionTracker tracker(TrackerOptions{}, sink);
  std::vector<Stream> streams;
  for (int i = 0; i < connections; ++i) streams.push_back(MakeStream(1000 + i));
  uint64_t now = 1;
  size_t next = 0;
  for (auto _ : state) {
    Stream& s = streams[next];
    next = next + 1 == streams.size() ? 0 : next + 1;
    s.request.timestamp_ns = ++now;
    tracker.OnData(s.request);
    s.request.seq += s.request.total_len;
    s.response.timestamp_ns = ++now;
    tracker.OnData(s.response);
    s.response.seq += s.response.total_len;
  }
  if (!batch.empty()) encode_batch();
  benchmark::DoNotOptimize(attributes);
  if (otlp && spans > 0) {
    state.counters["otlp_bytes_per_span"] = static_cast<double>(encoded_bytes) / spans;
  }
  state.SetItemsProcessed(static_cast<int64_t>(spans));
  state.counters["parse_errors"] = static_cast<double>(tracker.stats().http.parse_errors);
}

void BM_KeepAliveEventsToExchanges(benchmark::State& state) { Drive(state, Stage::kExchanges, 1); }
void BM_KeepAliveEventsToSpans(benchmark::State& state) { Drive(state, Stage::kSpans, 1); }
void BM_KeepAliveEventsToOtlpBytes(benchmark::State& state) { Drive(state, Stage::kOtlpBytes, 1); }
void BM_KeepAliveEventsToOtlpBytesViaMessageTree(benchmark::State& state) {
  Drive(state, Stage::kOtlpBytesViaMessageTree, 1);
}
void BM_ManyConnectionsEventsToSpans(benchmark::State& state) {
  Drive(state, Stage::kSpans, static_cast<int>(state.range(0)));
}

BENCHMARK(BM_KeepAliveEventsToExchanges);
BENCHMARK(BM_KeepAliveEventsToSpans);
BENCHMARK(BM_KeepAliveEventsToOtlpBytes);
BENCHMARK(BM_KeepAliveEventsToOtlpBytesViaMessageTree);
BENCHMARK(BM_ManyConnectionsEventsToSpans)->Arg(1000)->Arg(10000);

}  // namespace
}  // namespace weft

BENCHMARK_MAIN();
