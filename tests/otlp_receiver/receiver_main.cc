// weft-otlp-receiver: a minimal OTLP trace receiver for tests. Serves
// OTLP/gRPC and OTLP/HTTP on 127.0.0.1 and appends one JSON line per span.
#include <pthread.h>
#include <signal.h>

#include <atomic>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <memory>
#include <mutex>
#include <string>
#include <thread>

#include <grpcpp/grpcpp.h>
#include <httplib.h>
#include <CLI/CLI.hpp>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "exporters/otlp/gzip.h"
#include "google/rpc/status.pb.h"
#include "opentelemetry/proto/collector/trace/v1/trace_service.grpc.pb.h"
#include "tests/otlp_receiver/span_json.h"

namespace {

namespace collector = opentelemetry::proto::collector::trace::v1;

struct Options {
  int grpc_port = 0;
  int http_port = 0;
  std::string out_path;
  int fail_first = 0;
  int fail_status = 14;           // < 100: gRPC code; >= 100: HTTP status
  int retry_after_seconds = -1;   // attach Retry-After / RetryInfo to injected failures
  int partial_reject = 0;         // report this many rejected spans on every success
  std::string dump_bodies_dir;    // write each decoded HTTP body here (raw protobuf)
  bool grpc_reject_gzip = false;  // proves a client really compresses: its calls then fail
};

int GrpcCodeFor(int status) {
  if (status < 100) return status;
  switch (status) {
    case 400:
      return 3;  // INVALID_ARGUMENT
    case 401:
      return 16;  // UNAUTHENTICATED
    case 403:
      return 7;  // PERMISSION_DENIED
    case 404:
      return 12;  // UNIMPLEMENTED
    case 429:
      return 8;  // RESOURCE_EXHAUSTED
    case 502:
    case 503:
      return 14;  // UNAVAILABLE
    case 504:
      return 4;  // DEADLINE_EXCEEDED
    default:
      return 13;  // INTERNAL
  }
}

int HttpStatusFor(int status) {
  if (status >= 100) return status;
  switch (status) {
    case 3:
      return 400;
    case 4:
      return 504;
    case 7:
      return 403;
    case 8:
      return 429;
    case 12:
      return 404;
    case 14:
      return 503;
    case 16:
      return 401;
    default:
      return 500;
  }
}

class Receiver {
 public:
  explicit Receiver(const Options& options)
      : options_(options), failures_left_(options.fail_first) {}

  bool Open() {
    out_ = std::fopen(options_.out_path.c_str(), "a");
    return out_ != nullptr;
  }
  ~Receiver() {
    if (out_ != nullptr) std::fclose(out_);
  }

  // True while injected failures remain; each call consumes one.
  bool TakeFailure() {
    int left = failures_left_.load();
    while (left > 0 && !failures_left_.compare_exchange_weak(left, left - 1)) {
    }
    return left > 0;
  }

  void Record(const collector::ExportTraceServiceRequest& request, const std::string& transport,
              const std::string& compression) {
    std::vector<nlohmann::json> lines;
    weft::testing::RequestToJsonLines(request, transport, compression, &lines);
    std::lock_guard<std::mutex> lock(mu_);
    for (const nlohmann::json& line : lines) {
      const std::string text = line.dump() + "\n";
      std::fwrite(text.data(), 1, text.size(), out_);
    }
    std::fflush(out_);
  }

  void DumpBody(const std::string& body) {
    if (options_.dump_bodies_dir.empty()) return;
    std::lock_guard<std::mutex> lock(mu_);
    const std::string path = absl::StrCat(options_.dump_bodies_dir, "/http-", dumped_++, ".bin");
    std::ofstream(path, std::ios::binary) << body;
  }

  void FillResponse(collector::ExportTraceServiceResponse* response) const {
    if (options_.partial_reject > 0) {
      response->mutable_partial_success()->set_rejected_spans(options_.partial_reject);
      response->mutable_partial_success()->set_error_message("rejected by --partial-reject");
    }
  }

  const Options& options() const { return options_; }

 private:
  const Options options_;
  std::atomic<int> failures_left_;
  std::mutex mu_;
  FILE* out_ = nullptr;
  int dumped_ = 0;
};

class TraceService final : public collector::TraceService::Service {
 public:
  explicit TraceService(Receiver* receiver) : receiver_(receiver) {}

  grpc::Status Export(grpc::ServerContext* context,
                      const collector::ExportTraceServiceRequest* request,
                      collector::ExportTraceServiceResponse* response) override {
    if (receiver_->TakeFailure()) {
      const int code = GrpcCodeFor(receiver_->options().fail_status);
      std::string details;
      if (receiver_->options().retry_after_seconds >= 0) {
        google::rpc::Status status;
        status.set_code(code);
        status.set_message("injected failure");
        google::rpc::RetryInfo info;
        info.mutable_retry_delay()->set_seconds(receiver_->options().retry_after_seconds);
        status.add_details()->PackFrom(info);
        status.SerializeToString(&details);
      }
      return grpc::Status(static_cast<grpc::StatusCode>(code), "injected failure (--fail-first)",
                          details);
    }
    std::string compression;
    auto encoding = context->client_metadata().find("grpc-encoding");
    if (encoding != context->client_metadata().end()) {
      compression = std::string(encoding->second.data(), encoding->second.size());
      if (compression == "identity") compression.clear();
    }
    receiver_->Record(*request, "grpc", compression);
    receiver_->FillResponse(response);
    return grpc::Status::OK;
  }

 private:
  Receiver* receiver_;
};

void HandleHttp(Receiver* receiver, const httplib::Request& req, httplib::Response& res) {
  if (receiver->TakeFailure()) {
    res.status = HttpStatusFor(receiver->options().fail_status);
    if (receiver->options().retry_after_seconds >= 0) {
      res.set_header("Retry-After", std::to_string(receiver->options().retry_after_seconds));
    }
    google::rpc::Status status;
    status.set_code(GrpcCodeFor(receiver->options().fail_status));
    status.set_message("injected failure (--fail-first)");
    res.set_content(status.SerializeAsString(), "application/x-protobuf");
    return;
  }
  const std::string content_type = req.get_header_value("Content-Type");
  if (!absl::StartsWith(content_type, "application/x-protobuf")) {
    res.status = 415;
    res.set_content("only application/x-protobuf is supported", "text/plain");
    return;
  }
  std::string compression = req.get_header_value("Content-Encoding");
  std::string body = req.body;
  // cpp-httplib inflates gzip bodies itself when built with zlib; do it here
  // if it did not, so both builds of the library behave the same.
  if (body.size() >= 2 && static_cast<unsigned char>(body[0]) == 0x1f &&
      static_cast<unsigned char>(body[1]) == 0x8b) {
    absl::StatusOr<std::string> inflated = weft::GzipDecompress(body);
    if (!inflated.ok()) {
      res.status = 400;
      res.set_content(std::string(inflated.status().message()), "text/plain");
      return;
    }
    body = *std::move(inflated);
  }
  collector::ExportTraceServiceRequest request;
  if (!request.ParseFromString(body)) {
    res.status = 400;
    res.set_content("body is not an ExportTraceServiceRequest", "text/plain");
    return;
  }
  receiver->DumpBody(body);
  receiver->Record(request, "http", compression == "identity" ? "" : compression);
  collector::ExportTraceServiceResponse response;
  receiver->FillResponse(&response);
  res.status = 200;
  res.set_content(response.SerializeAsString(), "application/x-protobuf");
}

}  // namespace

int main(int argc, char** argv) {
  Options options;
  CLI::App app{"weft-otlp-receiver: OTLP trace receiver for tests"};
  app.add_option("--grpc-port", options.grpc_port,
                 "OTLP/gRPC port on 127.0.0.1 (0: pick a free one)");
  app.add_option("--http-port", options.http_port,
                 "OTLP/HTTP port on 127.0.0.1 (0: pick a free one)");
  app.add_option("--out", options.out_path, "append one JSON line per received span here")
      ->required();
  app.add_option("--fail-first", options.fail_first, "fail the first N export requests");
  app.add_option("--fail-status", options.fail_status,
                 "failure to inject: <100 a gRPC code, >=100 an HTTP status (mapped for the "
                 "other transport)");
  app.add_option("--retry-after", options.retry_after_seconds,
                 "with --fail-first: send Retry-After (HTTP) / RetryInfo (gRPC) of N seconds");
  app.add_option("--partial-reject", options.partial_reject,
                 "answer every accepted request with partial_success.rejected_spans = N");
  app.add_flag("--grpc-reject-gzip", options.grpc_reject_gzip,
               "refuse gzip-compressed gRPC messages (UNIMPLEMENTED), to prove a client uses gzip");
  app.add_option("--dump-bodies", options.dump_bodies_dir,
                 "write each accepted OTLP/HTTP body (after gzip) to DIR/http-<n>.bin");
  CLI11_PARSE(app, argc, argv);

  // Signals are taken synchronously by sigwait below, so block them in every thread.
  sigset_t signals;
  sigemptyset(&signals);
  sigaddset(&signals, SIGTERM);
  sigaddset(&signals, SIGINT);
  pthread_sigmask(SIG_BLOCK, &signals, nullptr);
  signal(SIGPIPE, SIG_IGN);

  Receiver receiver(options);
  if (!receiver.Open()) {
    std::fprintf(stderr, "weft-otlp-receiver: cannot open %s\n", options.out_path.c_str());
    return 1;
  }

  TraceService service(&receiver);
  grpc::ServerBuilder builder;
  int grpc_port = 0;
  builder.AddListeningPort(absl::StrCat("127.0.0.1:", options.grpc_port),
                           grpc::InsecureServerCredentials(), &grpc_port);
  builder.RegisterService(&service);
  if (options.grpc_reject_gzip) {
    builder.SetCompressionAlgorithmSupportStatus(GRPC_COMPRESS_GZIP, false);
  }
  std::unique_ptr<grpc::Server> grpc_server = builder.BuildAndStart();
  if (!grpc_server || grpc_port == 0) {
    std::fprintf(stderr, "weft-otlp-receiver: cannot listen for gRPC on port %d\n",
                 options.grpc_port);
    return 1;
  }

  httplib::Server http;
  http.Post("/v1/traces", [&](const httplib::Request& req, httplib::Response& res) {
    HandleHttp(&receiver, req, res);
  });
  int http_port = options.http_port;
  if (http_port == 0) {
    http_port = http.bind_to_any_port("127.0.0.1");
  } else if (!http.bind_to_port("127.0.0.1", http_port)) {
    http_port = -1;
  }
  if (http_port <= 0) {
    std::fprintf(stderr, "weft-otlp-receiver: cannot listen for HTTP on port %d\n",
                 options.http_port);
    return 1;
  }
  std::thread http_thread([&] { http.listen_after_bind(); });
  // A stop() before the accept loop runs would be lost and join() would hang.
  while (!http.is_running()) std::this_thread::sleep_for(std::chrono::milliseconds(1));

  std::printf("listening grpc=%d http=%d\n", grpc_port, http_port);
  std::fflush(stdout);

  int received = 0;
  sigwait(&signals, &received);
  http.stop();
  http_thread.join();
  grpc_server->Shutdown(std::chrono::system_clock::now() + std::chrono::seconds(2));
  return 0;
}
