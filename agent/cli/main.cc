// weft: zero-code distributed tracing for unmodified processes.
#include <cstdio>
#include <string>

#include "CLI/CLI.hpp"
#include "agent/cli/check_command.h"
#include "agent/cli/run_command.h"
#include "spdlog/sinks/stdout_color_sinks.h"
#include "spdlog/spdlog.h"

#ifndef WEFT_VERSION
#define WEFT_VERSION "0.0.0"
#endif

namespace {

void SetUpLogging(const std::string& level) {
  auto logger = spdlog::stderr_color_mt("weft");
  logger->set_pattern("weft %^%l%$: %v");
  spdlog::set_default_logger(logger);
  spdlog::set_level(spdlog::level::from_str(level));
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{
      "weft: zero-code distributed tracing for unmodified processes (eBPF + OpenTelemetry)",
      "weft"};
  app.require_subcommand(1);
  std::string log_level = "info";
  app.add_option("--log-level", log_level, "trace, debug, info, warn, error")
      ->check(CLI::IsMember({"trace", "debug", "info", "warn", "error", "off"}))
      ->capture_default_str();

  weft::RunOptions run;
  std::string backend = "auto";
  uint32_t ring_mb = 16;
  auto* run_cmd = app.add_subcommand("run", "trace processes and export their spans");
  run_cmd->add_option("--pid,-p", run.pids, "process to trace with its descendants (repeatable)")
      ->required();
  run_cmd->add_flag(
      "--events", run.events,
      "print every decoded kernel event as one JSON line on stdout, instead of spans");
  run_cmd->add_option("--backend", backend, "capture backend: auto, socket or syscall")
      ->check(CLI::IsMember({"auto", "socket", "syscall"}))
      ->capture_default_str();
  run_cmd
      ->add_option("--capture-bytes", run.capture.capture_bytes,
                   "bytes captured per socket call (at most 8192)")
      ->check(CLI::Range(64, 8192))
      ->capture_default_str();
  run_cmd->add_option("--ring-buffer-mb", ring_mb, "kernel ring buffer size in MiB")
      ->check(CLI::Range(1, 1024))
      ->capture_default_str();
  run_cmd
      ->add_option("--duration", run.duration_seconds,
                   "stop after this many seconds (default: run until SIGINT/SIGTERM)")
      ->check(CLI::NonNegativeNumber);
  run_cmd
      ->add_option("--exporter", run.exporter,
                   "console, otlp or none (default: otlp when OTEL_EXPORTER_OTLP_ENDPOINT is "
                   "set, else console)")
      ->check(CLI::IsMember({"console", "otlp", "none"}));
  run_cmd->add_option("--otlp-endpoint", run.otlp_endpoint,
                      "OTLP endpoint (overrides OTEL_EXPORTER_OTLP_ENDPOINT)");
  run_cmd
      ->add_option("--otlp-protocol", run.otlp_protocol,
                   "grpc or http/protobuf (overrides OTEL_EXPORTER_OTLP_PROTOCOL)")
      ->check(CLI::IsMember({"grpc", "http/protobuf"}));
  bool no_route_heuristic = false;
  run_cmd->add_flag("--no-route-heuristic", no_route_heuristic,
                    "do not replace ids in paths with {id} for http.route and span names");
  run_cmd->add_flag("--keep-query-values", run.keep_query_values,
                    "export query-string values instead of REDACTED");
  run_cmd
      ->add_option("--propagate", run.propagate,
                   "headers: insert a W3C traceparent into traced processes' outgoing HTTP/1.x "
                   "requests; none (default, or WEFT_PROPAGATE)")
      ->check(CLI::IsMember({"headers", "none"}));
  run_cmd
      ->add_option("--node-links", run.node_links,
                   "inspector: link Node.js calls to their requests with a hook weft installs "
                   "through each traced Node.js process's inspector (SIGUSR1; see "
                   "docs/parent-links.md); none (default, or WEFT_NODE_LINKS)")
      ->check(CLI::IsMember({"inspector", "none"}));
  run_cmd->add_flag(
      "--capture-bodies", [&](int64_t) { run.capture.skip_bodies = false; },
      "copy message bodies too (default: only the head of a message whose body "
      "length is declared; bodies are reported by size)");
  run_cmd->add_flag(
      "--no-trace-context", [&](int64_t) { run.capture.trace_context = false; },
      "do not decide trace context in the kernel (no parent links)");
  run_cmd->add_flag(
      "--no-go-probes", [&](int64_t) { run.go_probes = false; },
      "no uprobes in Go programs (their in-process parent links are then absent)");
  run_cmd->add_flag(
      "--no-python-probes", [&](int64_t) { run.python_probes = false; },
      "no uretprobe in traced CPython programs (asyncio calls then get no in-process parent)");

  bool check_json = false;
  auto* check_cmd = app.add_subcommand(
      "check", "report what this kernel and these privileges allow, and the capture path");
  check_cmd->add_flag("--json", check_json, "print the report as JSON");

  app.add_subcommand("version", "print weft's version");

  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    int code = app.exit(e);
    return code == 0 ? 0 : 2;
  }
  SetUpLogging(log_level);

  if (app.got_subcommand("version")) {
    std::printf("weft %s\n", WEFT_VERSION);
    return 0;
  }
  if (app.got_subcommand("check")) return weft::RunCheck(check_json);

  auto parsed_backend = weft::ParseCaptureBackend(backend);
  run.capture.backend = *parsed_backend;
  run.capture.ring_buffer_bytes = ring_mb * 1024 * 1024;
  run.route_heuristic = !no_route_heuristic;
  return weft::RunAgent(run);
}
