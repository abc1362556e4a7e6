#include "agent/pipeline/span_pipeline.h"

#include <variant>

namespace weft {

SpanPipeline::SpanPipeline(PipelineOptions options, SpanExporter* exporter,
                           resources::ResourceCache* resources, int64_t monotonic_to_unix_ns)
    : options_(std::move(options)),
      exporter_(exporter),
      resources_(resources),
      clock_offset_(monotonic_to_unix_ns),
      tracker_(options_.tracker,
               [this](const http1::HttpExchange& exchange) { OnExchange(exchange); }),
      linker_(options_.handoff),
      async_contexts_(options_.async_contexts) {}

void SpanPipeline::OnData(const DataEvent& data) {
  // Name the process while it is alive: a short-lived one (a forked
  // worker, a crash) may be gone by the time its span is built.
  if (known_processes_.insert(data.tgid).second) {
    resources_->Get(static_cast<int>(data.tgid));
  }
  // The address names a context only until it is reused: translate it now.
  const uint64_t async_task = async_contexts_.Current(data.tgid, data.async_context);
  const TraceContext& context = data.context;
  if (data.direction == Direction::kEgress && context.starts_span && context.valid()) {
    // A call sent by a pool thread with no context: its parent is decided
    // when the thread answers a request (handoff_linker.h).
    if (context.link_source == LinkSource::kNone) {
      linker_.OnOrphanRequestStart(context.trace_id, data.tgid, data.tid, data.timestamp_ns);
    }
    // A call from an asyncio task: decided when the task that answers its
    // request is known to be that request's own.
    if (async_task != 0 && (context.link_source == LinkSource::kNone ||
                            context.link_source == LinkSource::kAmbiguous)) {
      lineage_scratch_.clear();
      async_contexts_.TrackedLineage(async_task, options_.handoff.max_task_ancestors,
                                     &lineage_scratch_);
      linker_.OnAsyncRequestStart(context.trace_id, data.tgid, lineage_scratch_, data.timestamp_ns);
    }
  }
  if (data.direction == Direction::kIngress && context.starts_span) {
    linker_.OnServerRequestStart(data.tgid);
  }
  tracker_.OnData(data, async_task);
}

void SpanPipeline::OnEvent(const Event& event) {
  if (const auto* data = std::get_if<DataEvent>(&event)) {
    OnData(*data);
  } else if (const auto* copy = std::get_if<AsyncContextEvent>(&event)) {
    async_contexts_.OnCopy(*copy);
  } else if (const auto* close = std::get_if<CloseEvent>(&event)) {
    tracker_.OnClose(*close);
  } else if (const auto* process = std::get_if<ProcessEvent>(&event)) {
    if (process->kind == ProcessEvent::Kind::kFork) {
      resources_->Inherit(static_cast<int>(process->tgid), static_cast<int>(process->parent_tgid));
    } else if (process->kind == ProcessEvent::Kind::kExit) {
      ++stats_.processes_exited;
      tracker_.OnProcessExit(process->tgid, process->timestamp_ns);
      // OnProcessExit built the spans of its open exchanges, which hold the
      // resource already: it can go now.
      resources_->Forget(static_cast<int>(process->tgid));
      known_processes_.erase(process->tgid);
      async_contexts_.ForgetProcess(process->tgid);
      linker_.OnProcessExit(process->tgid);
    }
  }
  if (pending_.size() >= options_.export_batch) ExportPending();
}

void SpanPipeline::OnExchange(const http1::HttpExchange& exchange) {
  ++stats_.exchanges;
  Span span = BuildHttpSpan(exchange, options_.spans,
                            resources_->Get(static_cast<int>(exchange.tgid)), clock_offset_);
  ++stats_.spans;
  if (span.kind == SpanKind::kServer) ++stats_.server_spans;
  if (span.kind == SpanKind::kClient) ++stats_.client_spans;
  const http1::HttpRequest& request = exchange.request;
  SpanFacts facts;
  facts.tgid = exchange.tgid;
  facts.request_tid = request.tid;
  facts.response_tid = exchange.has_response ? exchange.response.tid : 0;
  facts.request_start_ns = request.start_ns;
  facts.response_start_ns = exchange.has_response ? exchange.response.start_ns : 0;
  facts.end_ns = exchange.end_ns;
  facts.orphan_client = exchange.kind == http1::ExchangeKind::kClient &&
                        request.context_from_kernel &&
                        (request.context.link_source == LinkSource::kNone ||
                         request.context.link_source == LinkSource::kAmbiguous);
  if (exchange.kind == http1::ExchangeKind::kServer && exchange.has_response) {
    facts.response_task = exchange.response.async_task;
    const auto* task = async_contexts_.Find(facts.response_task);
    if (task != nullptr && task->tracked) facts.response_task_created_ns = task->created_ns;
  }
  linker_.Add(std::move(span), facts, &pending_);
}

void SpanPipeline::Tick(uint64_t now_monotonic_ns) {
  tracker_.Expire(now_monotonic_ns);
  linker_.Expire(now_monotonic_ns, &pending_);
  ExportPending();
}

void SpanPipeline::Flush() {
  linker_.Flush(&pending_);
  ExportPending();
}

void SpanPipeline::ExportPending() {
  if (pending_.empty()) return;
  exporter_->Export(std::move(pending_));
  // The moved-from vector has no capacity: without this it would regrow by
  // doubling, moving every span about once more per batch.
  pending_.clear();
  pending_.reserve(options_.export_batch);
}

}  // namespace weft
