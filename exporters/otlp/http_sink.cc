#include "exporters/otlp/http_sink.h"

#include <mutex>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "exporters/otlp/gzip.h"
#include "exporters/otlp/otlp_encoder.h"
#include "google/rpc/status.pb.h"
#include "opentelemetry/proto/collector/trace/v1/trace_service.pb.h"

namespace weft {

namespace collector = opentelemetry::proto::collector::trace::v1;

namespace {

struct ResponseCapture {
  std::string body;
  std::string retry_after;
};

size_t OnBody(char* data, size_t size, size_t count, void* user) {
  auto* capture = static_cast<ResponseCapture*>(user);
  // OTLP responses are small; cap to keep a misbehaving server from growing memory.
  constexpr size_t kMaxBody = 1 << 20;
  if (capture->body.size() < kMaxBody) capture->body.append(data, size * count);
  return size * count;
}

size_t OnHeader(char* data, size_t size, size_t count, void* user) {
  auto* capture = static_cast<ResponseCapture*>(user);
  absl::string_view line(data, size * count);
  if (absl::StartsWithIgnoreCase(line, "retry-after:")) {
    capture->retry_after = std::string(absl::StripAsciiWhitespace(line.substr(12)));
  }
  return size * count;
}

int OnProgress(void* user, curl_off_t, curl_off_t, curl_off_t, curl_off_t) {
  // Non-zero aborts the transfer: the exporter is shutting down.
  return static_cast<RetryLoop*>(user)->cancelled() ? 1 : 0;
}

bool IsTransientCurlError(CURLcode code) {
  switch (code) {
    case CURLE_COULDNT_CONNECT:
    case CURLE_COULDNT_RESOLVE_HOST:
    case CURLE_OPERATION_TIMEDOUT:
    case CURLE_SEND_ERROR:
    case CURLE_RECV_ERROR:
    case CURLE_GOT_NOTHING:
    case CURLE_PARTIAL_FILE:
      return true;
    default:
      return false;
  }
}

}  // namespace

absl::StatusOr<std::unique_ptr<OtlpHttpSink>> OtlpHttpSink::Create(const OtlpConfig& config) {
  static std::once_flag curl_init;
  std::call_once(curl_init, [] { curl_global_init(CURL_GLOBAL_DEFAULT); });
  absl::StatusOr<OtlpTarget> target = config.ResolveTarget();
  if (!target.ok()) return target.status();
  auto sink = std::unique_ptr<OtlpHttpSink>(new OtlpHttpSink(config, target->address));
  if (!sink->curl_) return absl::InternalError("curl_easy_init failed");
  return sink;
}

OtlpHttpSink::OtlpHttpSink(const OtlpConfig& config, std::string url)
    : config_(config),
      url_(std::move(url)),
      curl_(curl_easy_init()),
      retry_(config.retry()),
      encoder_(std::string(config.scope_version())) {
  curl_slist* list = nullptr;
  list = curl_slist_append(list, "Content-Type: application/x-protobuf");
  if (config_.gzip()) list = curl_slist_append(list, "Content-Encoding: gzip");
  // libcurl adds "Expect: 100-continue" for large POSTs; collectors do not need the round trip.
  list = curl_slist_append(list, "Expect:");
  for (const auto& [key, value] : config_.headers()) {
    list = curl_slist_append(list, absl::StrCat(key, ": ", value).c_str());
  }
  request_headers_.reset(list);
}

OtlpHttpSink::~OtlpHttpSink() = default;

SendOutcome OtlpHttpSink::Send(const std::vector<Span>& batch, absl::Time deadline) {
  std::string body;
  encoder_.Encode(batch, &body);
  if (config_.gzip()) {
    absl::StatusOr<std::string> compressed = GzipCompress(body);
    if (!compressed.ok()) {
      SendOutcome outcome;
      outcome.status = compressed.status();
      return outcome;
    }
    body = *std::move(compressed);
  }
  return retry_.Run(deadline, [&](absl::Time give_up_at) { return Post(body, give_up_at); });
}

AttemptResult OtlpHttpSink::Post(const std::string& body, absl::Time give_up_at) {
  CURL* curl = curl_.get();
  curl_easy_reset(curl);
  ResponseCapture capture;
  const absl::Duration budget =
      std::max(absl::Milliseconds(1), std::min(config_.timeout(), give_up_at - absl::Now()));
  curl_easy_setopt(curl, CURLOPT_URL, url_.c_str());
  curl_easy_setopt(curl, CURLOPT_POST, 1L);
  curl_easy_setopt(curl, CURLOPT_POSTFIELDS, body.data());
  curl_easy_setopt(curl, CURLOPT_POSTFIELDSIZE_LARGE, static_cast<curl_off_t>(body.size()));
  curl_easy_setopt(curl, CURLOPT_HTTPHEADER, request_headers_.get());
  curl_easy_setopt(curl, CURLOPT_USERAGENT, absl::StrCat("weft/", config_.scope_version()).c_str());
  curl_easy_setopt(curl, CURLOPT_NOSIGNAL, 1L);  // we run on a worker thread
  curl_easy_setopt(curl, CURLOPT_TIMEOUT_MS, static_cast<long>(absl::ToInt64Milliseconds(budget)));
  curl_easy_setopt(curl, CURLOPT_WRITEFUNCTION, OnBody);
  curl_easy_setopt(curl, CURLOPT_WRITEDATA, &capture);
  curl_easy_setopt(curl, CURLOPT_HEADERFUNCTION, OnHeader);
  curl_easy_setopt(curl, CURLOPT_HEADERDATA, &capture);
  curl_easy_setopt(curl, CURLOPT_NOPROGRESS, 0L);
  curl_easy_setopt(curl, CURLOPT_XFERINFOFUNCTION, OnProgress);
  curl_easy_setopt(curl, CURLOPT_XFERINFODATA, &retry_);
  if (!config_.certificate_file().empty()) {
    curl_easy_setopt(curl, CURLOPT_CAINFO, config_.certificate_file().c_str());
  }

  AttemptResult result;
  const CURLcode rc = curl_easy_perform(curl);
  if (rc != CURLE_OK) {
    result.retryable = IsTransientCurlError(rc) && !retry_.cancelled();
    result.status = absl::UnavailableError(
        absl::StrCat("OTLP/HTTP POST ", url_, " failed: ", curl_easy_strerror(rc)));
    return result;
  }
  long http_status = 0;
  curl_easy_getinfo(curl, CURLINFO_RESPONSE_CODE, &http_status);
  if (http_status >= 200 && http_status < 300) {
    collector::ExportTraceServiceResponse response;
    if (!capture.body.empty() && response.ParseFromString(capture.body) &&
        response.has_partial_success()) {
      result.rejected_spans =
          static_cast<uint64_t>(std::max<int64_t>(0, response.partial_success().rejected_spans()));
      result.partial_success_message = response.partial_success().error_message();
    }
    result.status = absl::OkStatus();
    return result;
  }
  // Error bodies are google.rpc.Status in protobuf; use its message when present.
  std::string detail;
  google::rpc::Status status_body;
  if (!capture.body.empty() && status_body.ParseFromString(capture.body) &&
      !status_body.message().empty()) {
    detail = absl::StrCat(": ", status_body.message());
  }
  result.retryable = IsRetryableHttpStatus(static_cast<int>(http_status));
  result.server_delay = ParseRetryAfter(capture.retry_after, absl::Now());
  result.status = absl::UnavailableError(
      absl::StrCat("OTLP/HTTP POST ", url_, " returned HTTP ", http_status, detail));
  if (!result.retryable) result.status = absl::FailedPreconditionError(result.status.message());
  return result;
}

void OtlpHttpSink::Cancel() { retry_.Cancel(); }

}  // namespace weft
