#include "agent/cli/run_command.h"

#include <signal.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <set>
#include <string_view>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/time/clock.h"
#include "agent/events/event_json.h"
#include "agent/nodejs/node_links.h"
#include "agent/pipeline/span_pipeline.h"
#include "agent/probes/go_probes.h"
#include "agent/probes/kernel_fs.h"
#include "agent/probes/py_async_probes.h"
#include "agent/probes/tls_probes.h"
#include "agent/resources/resource_cache.h"
#include "bpf/propagate.h"
#include "exporters/exporter_factory.h"
#include "spdlog/spdlog.h"
#include "symbolizer/elf/go_binary.h"
#include "symbolizer/proc/proc_reader.h"

namespace weft {

namespace {

std::atomic<bool> g_stop{false};

void OnStopSignal(int) { g_stop.store(true); }

void InstallSignalHandlers() {
  struct sigaction sa {};
  sa.sa_handler = OnStopSignal;
  sigemptyset(&sa.sa_mask);
  sigaction(SIGINT, &sa, nullptr);
  sigaction(SIGTERM, &sa, nullptr);
  signal(SIGPIPE, SIG_IGN);
}

// nginx workers handle each request up to forwarding it before turning to
// another (docs/parent-links.md, proxy-turn); other event loops do not.
bool IsEventLoopProxy(const std::string& exe_link) {
  std::error_code error;
  const auto target = std::filesystem::read_symlink(exe_link, error);
  return !error && target.filename() == "nginx";
}

// Every process to trace: the requested ones and their descendants, never
// weft itself.
std::set<int> ExpandProcessTree(const proc::ProcReader& reader, const std::vector<int>& roots) {
  std::set<int> all;
  int self = getpid();
  for (int pid : roots) {
    if (pid != self) all.insert(pid);
    auto descendants = reader.ListDescendants(pid);
    if (!descendants.ok()) continue;
    for (int child : *descendants) {
      if (child != self) all.insert(child);
    }
  }
  return all;
}

void LogStats(const CaptureStats& s, bool final_line) {
  auto level = final_line ? spdlog::level::info : spdlog::level::debug;
  spdlog::log(level,
              "capture: {} events, {} lost, {} bytes captured, {} body bytes not copied, {} "
              "truncated, {} size-only, {} read faults, {} decode errors, {} connection-table "
              "misses, {} thread-table misses, {} TLS reads/writes without a known socket",
              s.events, s.lost, s.bytes_captured, s.body_bytes_skipped, s.truncated, s.size_only,
              s.read_faults, s.decode_errors, s.conn_table_full, s.thread_table_full,
              s.tls_unattributed);
}

// The standard OTEL_* environment, with command-line flags taking precedence.
EnvLookup EnvironmentWithFlags(const RunOptions& options) {
  EnvLookup process_env = ProcessEnvironment();
  return [process_env, options](const std::string& name) -> std::optional<std::string> {
    if (name == "OTEL_TRACES_EXPORTER" && !options.exporter.empty()) return options.exporter;
    if (name == "OTEL_EXPORTER_OTLP_ENDPOINT" && !options.otlp_endpoint.empty()) {
      return options.otlp_endpoint;
    }
    if (name == "OTEL_EXPORTER_OTLP_PROTOCOL" && !options.otlp_protocol.empty()) {
      return options.otlp_protocol;
    }
    return process_env(name);
  };
}

uint64_t MonotonicNowNs() {
  timespec t{};
  clock_gettime(CLOCK_MONOTONIC, &t);
  return uint64_t(t.tv_sec) * 1'000'000'000 + t.tv_nsec;
}

void LogPipelineStats(const SpanPipeline& pipeline, const SpanExporter& exporter) {
  const auto& p = pipeline.stats();
  const auto& t = pipeline.tracker_stats();
  ExporterStats e = exporter.stats();
  spdlog::info("spans: {} built ({} server, {} client) from {} exchanges; {} connections seen",
               p.spans, p.server_spans, p.client_spans, p.exchanges, t.connections_opened);
  const auto& h = p.handoff;
  if (h.orphan_calls) {
    spdlog::info(
        "handoff: {} pool-thread calls, {} linked to the request their thread answered, {} "
        "exported unlinked ({} released early: too many held); {} spans delayed",
        h.orphan_calls, h.linked, h.released, h.held_overflows, h.spans_delayed);
  }
  if (const auto& a = p.async_task; a.calls || a.answers_from_older_context) {
    spdlog::info(
        "async-task: {} asyncio calls held, {} linked to the request whose task sent them, {} "
        "exported unlinked ({} released early: too many held); {} spans delayed; {} answers "
        "from a context older than their request; {} contexts forgotten by the per-process cap ({} "
        "still current)",
        a.calls, a.linked, a.released, a.held_overflows, a.spans_delayed,
        a.answers_from_older_context, p.async_contexts.evicted, p.async_contexts.evicted_current);
  }
  spdlog::info("export: {} exported, {} dropped (queue full), {} failed, {} rejected, {} retries{}",
               e.spans_exported, e.spans_dropped, e.spans_failed, e.spans_rejected, e.retries,
               e.last_error.empty() ? "" : "; last error: " + e.last_error);
}

void LogPropagationStats(const PropagationStats& s) {
  spdlog::info(
      "propagation: {} requests given a traceparent; left alone: {} already had one, {} "
      "header block not in the first send or over {} bytes, {} not HTTP/1.x, {} out of "
      "kernel memory; {} sockets entered the sockhash ({} refused)",
      s.injected, s.has_traceparent, s.headers_incomplete, WEFT_PROPAGATE_HEADER_BOUND, s.not_http1,
      s.push_failed, s.sockets_added, s.sockhash_full);
}

void LogNodeLinkStats(const nodejs::NodeLinkStats& n, const CaptureStats& c) {
  spdlog::info(
      "node-links: {} Node.js processes hooked, {} not signalled (a check said no), {} failed, "
      "{} hooks taken out; {} messages from hooks ({} named an unknown socket or request)",
      n.processes_hooked, n.processes_refused, n.failures, n.processes_unhooked, c.node_signals,
      c.node_unmatched);
}

}  // namespace

namespace {

// A two-valued mode from a flag (wins) or an environment variable: true for
// `on`, false for "none" or unset; an error naming the variable otherwise.
absl::StatusOr<bool> ResolveMode(const std::string& flag, const char* env_value,
                                 absl::string_view variable, absl::string_view what,
                                 absl::string_view on) {
  std::string mode = flag;
  if (mode.empty() && env_value != nullptr) mode = env_value;
  if (mode.empty() || mode == "none") return false;
  if (mode == on) return true;
  return absl::InvalidArgumentError(
      absl::StrCat(variable, "=", mode, " is not a ", what, ": use ", on, " or none"));
}

}  // namespace

absl::StatusOr<bool> ResolveNodeLinks(const std::string& flag, const char* env_value) {
  return ResolveMode(flag, env_value, "WEFT_NODE_LINKS", "Node.js link mode", "inspector");
}

absl::StatusOr<bool> ResolvePropagateHeaders(const std::string& flag, const char* env_value) {
  return ResolveMode(flag, env_value, "WEFT_PROPAGATE", "propagation mode", "headers");
}

int RunAgent(const RunOptions& run_options) {
  RunOptions options = run_options;
  auto propagate = ResolvePropagateHeaders(options.propagate, std::getenv("WEFT_PROPAGATE"));
  if (!propagate.ok()) {
    spdlog::error("{}", std::string(propagate.status().message()));
    return 2;
  }
  options.capture.propagate_headers = *propagate;
  auto node_links_on = ResolveNodeLinks(options.node_links, std::getenv("WEFT_NODE_LINKS"));
  if (!node_links_on.ok()) {
    spdlog::error("{}", std::string(node_links_on.status().message()));
    return 2;
  }
  if (*node_links_on && !options.capture.trace_context) {
    spdlog::error("--node-links inspector needs trace context: drop --no-trace-context");
    return 2;
  }
  options.capture.node_links = *node_links_on;
  options.capture.go_runtime = options.go_probes && options.capture.trace_context;
  if (options.pids.empty()) {
    spdlog::error("nothing to trace: pass --pid PID (repeatable) for each process to trace");
    return 2;
  }
  proc::ProcReader reader;
  for (int pid : options.pids) {
    if (pid <= 0 || !reader.ProcessExists(pid)) {
      spdlog::error("no such process {}: check the PID with `ps -p {}`", pid, pid);
      return 2;
    }
    if (pid == getpid()) {
      spdlog::error("--pid {} is weft itself; weft never traces itself", pid);
      return 2;
    }
  }
  if (auto priv = RequireTracingPrivileges(); !priv.ok()) {
    spdlog::error("{}", std::string(priv.message()));
    return 2;
  }
  for (const auto& note : EnsureKernelFilesystems()) spdlog::debug("{}", note);

  InstallSignalHandlers();
  const int64_t clock_offset = MonotonicToUnixOffsetNs();

  // The span pipeline (unless --events): exporter, resources, tracker.
  std::unique_ptr<SpanExporter> exporter;
  std::unique_ptr<resources::ResourceCache> resource_cache;
  std::unique_ptr<SpanPipeline> pipeline;
  if (!options.events) {
    auto made = MakeExporterFromEnvironment(EnvironmentWithFlags(options), stdout);
    if (!made.ok()) {
      spdlog::error("{}", std::string(made.status().message()));
      return 2;
    }
    exporter = *std::move(made);
    auto resource_config = resources::AgentResourceConfig::FromEnvironment();
    if (!resource_config.ok()) {
      spdlog::error("{}", std::string(resource_config.status().message()));
      return 2;
    }
    resource_cache = std::make_unique<resources::ResourceCache>(resources::ProcfsSource(reader),
                                                                *resource_config);
    PipelineOptions pipeline_options;
    pipeline_options.spans.route_heuristic = options.route_heuristic;
    pipeline_options.spans.keep_query_values = options.keep_query_values;
    pipeline = std::make_unique<SpanPipeline>(pipeline_options, exporter.get(),
                                              resource_cache.get(), clock_offset);
  }

  // Processes traced right now: seeded below, grown by fork events, shrunk
  // by exit events. When the last one exits there is nothing left to trace.
  std::set<int> traced;
  bool all_exited = false;
  std::string line;
  // Forks and exits since the last poll, for the TLS uprobes (attached per
  // process, outside the event callback).
  std::vector<ProcessEvent> process_changes;
  std::unique_ptr<nodejs::NodeLinks> node;  // set once the probes run
  auto handler = [&](const Event& event) {
    // weft's own connections to Node.js inspectors are not the program's.
    if (const auto* data = std::get_if<DataEvent>(&event);
        data && node &&
        node->IsOwnInspectorConnection(data->tuple.local.port, data->tuple.remote.port)) {
      return;
    }
    if (const auto* process = std::get_if<ProcessEvent>(&event)) {
      process_changes.push_back(*process);
      if (process->kind == ProcessEvent::Kind::kFork) {
        traced.insert(static_cast<int>(process->tgid));
      } else if (traced.erase(static_cast<int>(process->tgid)) && traced.empty()) {
        all_exited = true;
      }
    }
    if (pipeline) {
      pipeline->OnEvent(event);
      return;
    }
    line = EventToJson(event, clock_offset);
    line.push_back('\n');
    std::fwrite(line.data(), 1, line.size(), stdout);
  };

  auto probes = CaptureProbes::Start(options.capture, handler);
  if (!probes.ok()) {
    spdlog::error("{}", std::string(probes.status().message()));
    return probes.status().code() == absl::StatusCode::kInternal ? 1 : 2;
  }
  // Root first, then its tree: a child forked after the root is in the map is
  // followed by the kernel; a second scan catches children of children that
  // forked while the first scan ran.
  for (int pass = 0; pass < 2; ++pass) {
    for (int pid : ExpandProcessTree(reader, options.pids)) {
      if (traced.count(pid)) continue;
      if (auto st = (*probes)->TraceProcess(pid); !st.ok()) {
        spdlog::error("{}", std::string(st.message()));
        return 1;
      }
      traced.insert(pid);
      // Goroutines move between threads: a Go thread's active context may
      // belong to another goroutine's request, so no thread links there.
      const std::string exe = "/proc/" + std::to_string(pid) + "/exe";
      if (auto go = elf::IsGoBinary(exe); go.ok() && *go) {
        if (auto st = (*probes)->MarkMultiplexing(pid); !st.ok()) {
          spdlog::warn("{}", std::string(st.message()));
        }
      }
      if (IsEventLoopProxy(exe)) {
        if (auto st = (*probes)->MarkEventLoopProxy(pid); !st.ok()) {
          spdlog::warn("{}", std::string(st.message()));
        }
      }
      // Name it now: a process that dies before its first span is built
      // would otherwise be unnamed.
      if (resource_cache) resource_cache->Get(pid);
    }
  }

  // HTTPS through a shared OpenSSL: uprobes on every libssl the traced
  // processes map, for those processes only (WEFT_TLS_PROBES=node: one per
  // file for every process, see docs/tls.md), attached to forked children as
  // their fork arrives and rescanned for processes that exec or load it later.
  const char* tls_scope_env = std::getenv("WEFT_TLS_PROBES");
  const bool tls_node_wide = tls_scope_env && std::string_view(tls_scope_env) == "node";
  auto tls = std::make_unique<TlsProbes>(
      **probes, tls_node_wide ? TlsProbeScope::kWholeNode : TlsProbeScope::kTracedProcesses);
  tls->Rescan();
  // Go: goroutine-aware parent links (runtime and net/http uprobes per
  // executable), rescanned like TLS for processes that start or exec later.
  auto go = std::make_unique<GoProbes>(**probes);
  if (options.go_probes && options.capture.trace_context) go->Rescan();
  // CPython: which asyncio task sent each request and answer, for processes
  // running an interpreter whose layout weft knows.
  auto python = std::make_unique<PyAsyncProbes>(**probes);
  const bool python_probes = options.python_probes && options.capture.trace_context;
  if (python_probes) python->Rescan();
  // Node.js: a hook installed through each process's inspector names the
  // request behind every call (opt-in: it signals the process). The first
  // hooks go in before weft says it is ready.
  if (*node_links_on) {
    node = std::make_unique<nodejs::NodeLinks>(**probes, nodejs::InjectorOptions{});
    node->Rescan();
    node->WaitIdle(absl::Seconds(10));
  }
  auto next_tls_scan = std::chrono::steady_clock::now() + std::chrono::milliseconds(500);

  if (const auto* propagation = (*probes)->propagation()) {
    spdlog::info(
        "propagation: inserting traceparent into outgoing HTTP/1.x requests of traced "
        "processes (sockops on {}, sk_msg on weft's sockhash)",
        propagation->cgroup_path());
  }
  std::fprintf(stderr, "weft ready: tracing %zu processes (%s), backend %s\n", traced.size(),
               absl::StrJoin(traced, ",").c_str(),
               std::string(ToString((*probes)->backend())).c_str());
  std::fflush(stderr);

  using Clock = std::chrono::steady_clock;
  const auto started = Clock::now();
  auto next_stats = started;
  uint64_t last_lost = 0;
  uint64_t last_export_problems = 0;
  auto next_export_warning = started;
  while (!g_stop.load() && !all_exited) {
    auto polled = (*probes)->Poll(50);
    if (!polled.ok()) {
      spdlog::error("{}", std::string(polled.status().message()));
      return 1;
    }
    for (const ProcessEvent& change : process_changes) {
      if (change.kind == ProcessEvent::Kind::kFork) {
        tls->OnProcessStarted(change.tgid);
      } else {
        tls->OnProcessExited(change.tgid);
      }
    }
    process_changes.clear();
    if (pipeline) {
      pipeline->Tick(MonotonicNowNs());
    } else {
      std::fflush(stdout);
    }
    auto now = Clock::now();
    if (now >= next_tls_scan) {
      tls->Rescan();
      if (options.go_probes && options.capture.trace_context) go->Rescan();
      if (python_probes) python->Rescan();
      if (node) node->Rescan();
      next_tls_scan = now + std::chrono::milliseconds(500);
    }
    if (options.duration_seconds > 0 &&
        now - started >= std::chrono::duration<double>(options.duration_seconds)) {
      break;
    }
    if (now >= next_stats) {
      next_stats = now + std::chrono::seconds(1);
      // An exit weft could not see (before it started tracing, or a lost
      // record) must not keep it waiting forever.
      for (auto it = traced.begin(); it != traced.end();) {
        it = reader.ProcessExists(*it) ? std::next(it) : traced.erase(it);
      }
      if (traced.empty()) all_exited = true;
      CaptureStats s = (*probes)->Stats();
      if (s.lost > last_lost) {
        spdlog::warn("the ring buffer overflowed: {} events lost so far (raise --ring-buffer-mb)",
                     s.lost);
        last_lost = s.lost;
      }
      // Export trouble is said while it happens (at most every 10 s), not
      // only in the summary at exit.
      if (exporter && now >= next_export_warning) {
        ExporterStats e = exporter->stats();
        uint64_t problems = e.spans_failed + e.spans_dropped + e.spans_rejected;
        if (problems > last_export_problems) {
          spdlog::warn(
              "span export is failing: {} failed, {} dropped (queue full), {} rejected "
              "so far; last error: {}",
              e.spans_failed, e.spans_dropped, e.spans_rejected,
              e.last_error.empty() ? "none reported" : e.last_error);
          last_export_problems = problems;
          next_export_warning = now + std::chrono::seconds(10);
        }
      }
    }
  }
  if (all_exited) spdlog::info("every traced process has exited; stopping");
  // Drain what the kernel wrote before the stop, then detach.
  if (node) node->Shutdown(absl::Milliseconds(1500));
  (void)(*probes)->Poll(0);
  LogStats((*probes)->Stats(), true);
  if (node) LogNodeLinkStats(node->stats(), (*probes)->Stats());
  if (const auto* propagation = (*probes)->propagation()) LogPropagationStats(propagation->Stats());
  tls->StartDetach();  // slow in the kernel: overlaps the flush below
  go->StartDetach();
  python->StartDetach();
  node.reset();
  probes->reset();
  if (pipeline) {
    pipeline->Flush();
    // Stay inside the 2 s a stop may take, even with a dead collector.
    exporter->Shutdown(absl::Now() + absl::Milliseconds(1500));
    LogPipelineStats(*pipeline, *exporter);
  }
  tls.reset();
  go.reset();
  std::fflush(stdout);
  return 0;
}

}  // namespace weft
