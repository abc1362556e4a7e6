// Kernel events of an aiohttp-shaped service through the whole pipeline: the
// asyncio context of each send reaches the linker via the HTTP messages.
#include <array>
#include <map>
#include <string>
#include <string_view>
#include <vector>

#include "agent/pipeline/span_pipeline.h"
#include "gtest/gtest.h"
#include "tests/unit/links/link_test_spans.h"

namespace weft {
namespace {

constexpr uint32_t kService = 500;
constexpr uint64_t kServerConn = 1;
constexpr uint64_t kClientConn = 2;
constexpr uint64_t kLoopContext = 0x7000;
constexpr uint64_t kConnTask = 0x7100;
constexpr uint64_t kRequestTask = 0x7200;

class CollectingExporter : public SpanExporter {
 public:
  void Export(std::vector<Span> spans) override {
    for (Span& s : spans) exported.push_back(std::move(s));
  }
  bool ForceFlush(absl::Time) override { return true; }
  void Shutdown(absl::Time) override {}
  ExporterStats stats() const override { return {}; }
  std::vector<Span> exported;
};

resources::ProcessSource NoProcesses() {
  auto missing = [](int) { return absl::NotFoundError("test: no process"); };
  return resources::ProcessSource{
      .read_process = [missing](int pid) -> absl::StatusOr<proc::ProcessInfo> {
        return missing(pid);
      },
      .read_start_time = [missing](int pid) -> absl::StatusOr<uint64_t> { return missing(pid); },
  };
}

TraceContext Context(uint8_t seed, LinkSource link) {
  TraceContext c;
  c.trace_id.fill(seed);
  c.span_id.fill(static_cast<uint8_t>(seed + 1));
  c.link_source = link;
  c.starts_span = true;
  return c;
}

using testing::LinkSourceOf;

class AsyncTaskPipelineTest : public ::testing::Test {
 protected:
  void Send(uint64_t conn, Role role, Direction direction, std::string_view bytes,
            uint64_t async_context, const TraceContext* context = nullptr) {
    DataEvent event;
    event.timestamp_ns = (now_ += 1000);
    event.tgid = event.tid = kService;
    event.conn_id = conn;
    event.direction = direction;
    event.role = role;
    uint32_t& seq = seq_[conn][direction == Direction::kEgress ? 0 : 1];
    event.seq = seq;
    event.total_len = static_cast<uint32_t>(bytes.size());
    seq += event.total_len;
    if (context != nullptr) event.context = *context;
    event.async_context = async_context;
    event.data = bytes;
    pipeline.OnEvent(event);
  }
  void Copy(uint64_t parent, uint64_t child) {
    pipeline.OnEvent(AsyncContextEvent{(now_ += 1000), kService, kService, parent, child});
  }
  const Span* Exported(const TraceContext& context) const {
    for (const Span& s : exporter.exported)
      if (s.span_id == context.span_id) return &s;
    return nullptr;
  }

  // The request is read on the connection; `answer_from` writes the answer
  // after the handler's call (sent from `call_from`) returned.
  void Serve(uint64_t call_from, uint64_t answer_from) {
    Send(kServerConn, Role::kServer, Direction::kIngress, "GET /front HTTP/1.1\r\nHost: a\r\n\r\n",
         0, &request);
    Copy(kConnTask, kRequestTask);  // aiohttp: a task per request, after the read
    Send(kClientConn, Role::kClient, Direction::kEgress, "GET /back HTTP/1.1\r\nHost: b\r\n\r\n",
         call_from, &call);
    Send(kClientConn, Role::kClient, Direction::kIngress,
         "HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n", 0);
    Send(kServerConn, Role::kServer, Direction::kEgress,
         "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok", answer_from);
    pipeline.Flush();
  }

  CollectingExporter exporter;
  resources::ResourceCache resources{NoProcesses(), resources::AgentResourceConfig{}};
  SpanPipeline pipeline{PipelineOptions{}, &exporter, &resources, 0};
  TraceContext request = Context(1, LinkSource::kNone);
  TraceContext call = Context(3, LinkSource::kAmbiguous);
  uint64_t now_ = 1'000'000;
  std::map<uint64_t, std::array<uint32_t, 2>> seq_;

  void SetUp() override { Copy(kLoopContext, kConnTask); }  // the connection's handler task
};

TEST_F(AsyncTaskPipelineTest, CallOfTheRequestsTaskIsLinkedToTheRequest) {
  Serve(/*call_from=*/kRequestTask, /*answer_from=*/kRequestTask);
  ASSERT_EQ(exporter.exported.size(), 2u);
  const Span* client = Exported(call);
  ASSERT_NE(client, nullptr);
  EXPECT_EQ(client->trace_id, request.trace_id);
  EXPECT_EQ(client->parent_span_id, request.span_id);
  EXPECT_EQ(LinkSourceOf(*client), "async-task");
  EXPECT_EQ(pipeline.stats().async_task.linked, 1u);
}

TEST_F(AsyncTaskPipelineTest, AnswerFromTheConnectionsOlderContextLinksNothing) {
  Serve(/*call_from=*/kConnTask, /*answer_from=*/kConnTask);
  ASSERT_EQ(exporter.exported.size(), 2u);
  const Span* client = Exported(call);
  ASSERT_NE(client, nullptr);
  EXPECT_EQ(client->trace_id, call.trace_id);
  EXPECT_TRUE(client->IsRoot());
  EXPECT_EQ(LinkSourceOf(*client), "ambiguous");
  EXPECT_EQ(pipeline.stats().async_task.answers_from_older_context, 1u);
  EXPECT_EQ(pipeline.stats().async_task.linked, 0u);
}

// A new connection per request (aiohttp): request B's connection task is
// created in a context asyncio copied in Python (call_soon, never reported)
// at the address of request A's finished child task, so for the registry
// B's tasks descend from A's. A answers after B's call ended: the call is
// still B's, not A's.
TEST_F(AsyncTaskPipelineTest, ALaterRequestsCallStaysItsOwnThroughAReusedAddress) {
  constexpr uint64_t kServerConnB = 3, kClientConnB = 4;
  constexpr uint64_t kChildA = 0x7300, kConnTaskB = 0x7110, kRequestTaskB = 0x7210,
                     kChildB = 0x7310;
  TraceContext request_b = Context(5, LinkSource::kNone);
  TraceContext call_b = Context(7, LinkSource::kAmbiguous);
  Send(kServerConn, Role::kServer, Direction::kIngress, "GET /a HTTP/1.1\r\nHost: a\r\n\r\n", 0,
       &request);
  Copy(kConnTask, kRequestTask);
  Copy(kRequestTask, kChildA);  // asyncio.gather
  Send(kClientConn, Role::kClient, Direction::kEgress, "GET /back HTTP/1.1\r\nHost: b\r\n\r\n",
       kChildA, &call);
  Send(kClientConn, Role::kClient, Direction::kIngress,
       "HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n", 0);
  // kChildA's task is done; the unseen copy got its address.
  Copy(kChildA, kConnTaskB);
  Send(kServerConnB, Role::kServer, Direction::kIngress, "GET /b HTTP/1.1\r\nHost: a\r\n\r\n", 0,
       &request_b);
  Copy(kConnTaskB, kRequestTaskB);
  Copy(kRequestTaskB, kChildB);
  Send(kClientConnB, Role::kClient, Direction::kEgress, "GET /back HTTP/1.1\r\nHost: b\r\n\r\n",
       kChildB, &call_b);
  Send(kClientConnB, Role::kClient, Direction::kIngress,
       "HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n", 0);
  Send(kServerConn, Role::kServer, Direction::kEgress,
       "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok", kRequestTask);
  Send(kServerConnB, Role::kServer, Direction::kEgress,
       "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok", kRequestTaskB);
  pipeline.Flush();
  const Span* client_a = Exported(call);
  const Span* client_b = Exported(call_b);
  ASSERT_NE(client_a, nullptr);
  ASSERT_NE(client_b, nullptr);
  EXPECT_EQ(client_a->parent_span_id, request.span_id);
  EXPECT_EQ(client_b->trace_id, request_b.trace_id);
  EXPECT_EQ(client_b->parent_span_id, request_b.span_id) << "request A took request B's call";
  EXPECT_EQ(LinkSourceOf(*client_b), "async-task");
  EXPECT_EQ(pipeline.stats().async_task.linked, 2u);
}

TEST_F(AsyncTaskPipelineTest, ProcessWithoutAsyncContextsIsNotHeld) {
  Serve(/*call_from=*/0, /*answer_from=*/0);
  EXPECT_EQ(pipeline.stats().async_task.calls, 0u);
  EXPECT_EQ(LinkSourceOf(*Exported(call)), "ambiguous");
}

TEST_F(AsyncTaskPipelineTest, CallsOfAProcessThatServesNothingAreNotHeld) {
  Copy(kConnTask, kRequestTask);
  Send(kClientConn, Role::kClient, Direction::kEgress, "GET /back HTTP/1.1\r\nHost: b\r\n\r\n",
       kRequestTask, &call);
  EXPECT_EQ(pipeline.stats().async_task.calls, 0u);
}

TEST_F(AsyncTaskPipelineTest, AnExitedProcessesContextsAreForgotten) {
  ProcessEvent exit;
  exit.kind = ProcessEvent::Kind::kExit;
  exit.tgid = kService;
  pipeline.OnEvent(exit);
  EXPECT_EQ(pipeline.stats().async_contexts.processes_forgotten, 1u);
}

}  // namespace
}  // namespace weft
