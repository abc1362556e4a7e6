// OTLP/HTTP transport: POST application/x-protobuf to …/v1/traces with retries.
#pragma once

#include <curl/curl.h>

#include <memory>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "exporters/batching_exporter.h"
#include "exporters/otlp/otlp_config.h"
#include "exporters/otlp/otlp_wire.h"
#include "exporters/otlp/retry_loop.h"

namespace weft {

class OtlpHttpSink final : public BatchSink {
 public:
  static absl::StatusOr<std::unique_ptr<OtlpHttpSink>> Create(const OtlpConfig& config);
  ~OtlpHttpSink() override;

  SendOutcome Send(const std::vector<Span>& batch, absl::Time deadline) override;
  void Cancel() override;

  // One POST of an already encoded (and possibly compressed) body. Public so
  // the independent-decoder test can capture exactly what goes on the wire.
  AttemptResult Post(const std::string& body, absl::Time give_up_at);

 private:
  OtlpHttpSink(const OtlpConfig& config, std::string url);

  struct CurlDeleter {
    void operator()(CURL* curl) const { curl_easy_cleanup(curl); }
  };
  struct SlistDeleter {
    void operator()(curl_slist* list) const { curl_slist_free_all(list); }
  };

  const OtlpConfig config_;
  const std::string url_;
  std::unique_ptr<CURL, CurlDeleter> curl_;
  std::unique_ptr<curl_slist, SlistDeleter> request_headers_;
  RetryLoop retry_;
  OtlpWireEncoder encoder_;  // Send runs on one worker thread only
};

}  // namespace weft
