#include "exporters/otlp/grpc_sink.h"

#include <condition_variable>
#include <fstream>
#include <sstream>

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "exporters/otlp/otlp_encoder.h"
#include "google/rpc/status.pb.h"

namespace weft {

namespace collector = opentelemetry::proto::collector::trace::v1;

namespace {

constexpr char kExportMethod[] = "/opentelemetry.proto.collector.trace.v1.TraceService/Export";

// Where the callback of a generic unary call leaves its status. Shared with
// the callback, which may run on a gRPC thread after the waiter has woken.
struct CallCompletion {
  std::mutex mu;
  std::condition_variable cv;
  bool done = false;
  grpc::Status status;
};

bool ValidGrpcMetadataKey(absl::string_view key) {
  if (key.empty()) return false;
  for (char c : key) {
    if (!(absl::ascii_islower(c) || absl::ascii_isdigit(c) || c == '-' || c == '_' || c == '.')) {
      return false;
    }
  }
  return true;
}

}  // namespace

std::optional<absl::Duration> RetryDelayFromStatusDetails(const std::string& details) {
  if (details.empty()) return std::nullopt;
  google::rpc::Status status;
  if (!status.ParseFromString(details)) return std::nullopt;
  for (const google::protobuf::Any& detail : status.details()) {
    google::rpc::RetryInfo info;
    if (detail.Is<google::rpc::RetryInfo>() && detail.UnpackTo(&info)) {
      return absl::Seconds(info.retry_delay().seconds()) +
             absl::Nanoseconds(info.retry_delay().nanos());
    }
  }
  return std::nullopt;
}

absl::StatusOr<std::unique_ptr<OtlpGrpcSink>> OtlpGrpcSink::Create(const OtlpConfig& config) {
  absl::StatusOr<OtlpTarget> target = config.ResolveTarget();
  if (!target.ok()) return target.status();
  for (const auto& [key, value] : config.headers()) {
    if (!ValidGrpcMetadataKey(absl::AsciiStrToLower(key))) {
      return absl::InvalidArgumentError(absl::StrCat(
          "header name '", key, "' is not valid gRPC metadata; use letters, digits, - _ ."));
    }
  }
  std::shared_ptr<grpc::ChannelCredentials> credentials;
  if (target->use_tls) {
    grpc::SslCredentialsOptions options;
    if (!config.certificate_file().empty()) {
      std::ifstream file(config.certificate_file());
      if (!file) {
        return absl::InvalidArgumentError(
            absl::StrCat("cannot read OTLP certificate file '", config.certificate_file(),
                         "'; OTEL_EXPORTER_OTLP_CERTIFICATE must name a readable PEM file"));
      }
      std::stringstream pem;
      pem << file.rdbuf();
      options.pem_root_certs = pem.str();
    }
    credentials = grpc::SslCredentials(options);
  } else {
    credentials = grpc::InsecureChannelCredentials();
  }
  grpc::ChannelArguments args;
  args.SetUserAgentPrefix(absl::StrCat("weft/", config.scope_version()));
  // gRPC's own reconnect backoff grows to 120 s by default; while it waits, calls
  // fail at once and a collector that came back would go unused for minutes.
  args.SetInt(GRPC_ARG_INITIAL_RECONNECT_BACKOFF_MS, 500);
  args.SetInt(GRPC_ARG_MAX_RECONNECT_BACKOFF_MS, 5000);
  auto channel = grpc::CreateCustomChannel(target->address, credentials, args);
  return std::unique_ptr<OtlpGrpcSink>(
      new OtlpGrpcSink(config, target->address, std::move(channel)));
}

OtlpGrpcSink::OtlpGrpcSink(const OtlpConfig& config, std::string address,
                           std::shared_ptr<grpc::Channel> channel)
    : config_(config),
      address_(std::move(address)),
      channel_(std::move(channel)),
      stub_(channel_),
      retry_(config.retry()),
      encoder_(std::string(config.scope_version())) {}

SendOutcome OtlpGrpcSink::Send(const std::vector<Span>& batch, absl::Time deadline) {
  encoder_.Encode(batch, &body_);
  grpc::Slice slice(body_);
  grpc::ByteBuffer request(&slice, 1);
  return retry_.Run(deadline, [&](absl::Time give_up_at) { return Attempt(request, give_up_at); });
}

AttemptResult OtlpGrpcSink::Attempt(const grpc::ByteBuffer& request, absl::Time give_up_at) {
  grpc::ClientContext context;
  context.set_deadline(absl::ToChronoTime(std::min(absl::Now() + config_.timeout(), give_up_at)));
  for (const auto& [key, value] : config_.headers()) {
    context.AddMetadata(absl::AsciiStrToLower(key), value);
  }
  if (config_.gzip()) context.set_compression_algorithm(GRPC_COMPRESS_GZIP);
  {
    std::lock_guard<std::mutex> lock(active_mu_);
    if (retry_.cancelled()) {
      return AttemptResult{absl::CancelledError("exporter shut down"), false};
    }
    active_call_ = &context;
  }
  collector::ExportTraceServiceResponse response;
  auto completion = std::make_shared<CallCompletion>();
  stub_.UnaryCall(&context, kExportMethod, grpc::StubOptions(), &request, &response,
                  [completion](grpc::Status status) {
                    std::lock_guard<std::mutex> lock(completion->mu);
                    completion->status = std::move(status);
                    completion->done = true;
                    completion->cv.notify_one();
                  });
  grpc::Status status;
  {
    std::unique_lock<std::mutex> lock(completion->mu);
    completion->cv.wait(lock, [&] { return completion->done; });
    status = completion->status;
  }
  {
    std::lock_guard<std::mutex> lock(active_mu_);
    active_call_ = nullptr;
  }
  AttemptResult result;
  if (status.ok()) {
    result.status = absl::OkStatus();
    if (response.has_partial_success()) {
      result.rejected_spans =
          static_cast<uint64_t>(std::max<int64_t>(0, response.partial_success().rejected_spans()));
      result.partial_success_message = response.partial_success().error_message();
    }
    return result;
  }
  result.server_delay = RetryDelayFromStatusDetails(status.error_details());
  result.retryable = IsRetryableGrpcCode(status.error_code(), result.server_delay.has_value());
  result.status = absl::Status(static_cast<absl::StatusCode>(status.error_code()),
                               absl::StrCat("OTLP/gRPC export to ", address_, " failed (code ",
                                            status.error_code(), "): ", status.error_message()));
  return result;
}

void OtlpGrpcSink::Cancel() {
  retry_.Cancel();
  std::lock_guard<std::mutex> lock(active_mu_);
  if (active_call_ != nullptr) active_call_->TryCancel();
}

}  // namespace weft
