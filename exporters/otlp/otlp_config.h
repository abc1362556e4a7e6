// Configuration of the OTLP trace exporters, from the standard
// OTEL_EXPORTER_OTLP_* environment variables and/or CLI flags.
#pragma once

#include <optional>
#include <string>
#include <utility>
#include <vector>
#include "absl/strings/string_view.h"

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "exporters/batch_config.h"
#include "exporters/otlp/retry_policy.h"

namespace weft {

enum class OtlpProtocol { kGrpc, kHttpProtobuf };

using OtlpHeaders = std::vector<std::pair<std::string, std::string>>;

// Where and how to connect, after applying the spec's endpoint rules.
struct OtlpTarget {
  // HTTP: the full URL to POST to (…/v1/traces).
  // gRPC: "host:port", the channel target.
  std::string address;
  bool use_tls = false;
};

class OtlpConfig {
 public:
  // Reads OTEL_EXPORTER_OTLP_{,TRACES_}{ENDPOINT,PROTOCOL,HEADERS,TIMEOUT,
  // COMPRESSION,INSECURE,CERTIFICATE} and OTEL_BSP_*. Trace-specific variables
  // win over the generic ones. Errors say which variable is wrong and how to fix it.
  static absl::StatusOr<OtlpConfig> FromEnvironment(const EnvLookup& env);

  // True if OTEL_EXPORTER_OTLP_ENDPOINT or OTEL_EXPORTER_OTLP_TRACES_ENDPOINT
  // is set (non-empty): the agent then exports OTLP instead of printing.
  static bool EndpointConfigured(const EnvLookup& env);

  // Setters for CLI flags; same validation and messages as the variables.
  // A base endpoint gets /v1/traces appended for HTTP (OTEL_EXPORTER_OTLP_ENDPOINT
  // semantics); a traces endpoint is used as is (…_TRACES_ENDPOINT semantics).
  absl::Status SetEndpoint(absl::string_view base_endpoint);
  absl::Status SetTracesEndpoint(absl::string_view url);
  absl::Status SetProtocol(absl::string_view protocol);  // grpc | http/protobuf
  absl::Status SetHeaders(absl::string_view headers);    // key=value,key2=value2 (URL-encoded)
  absl::Status SetTimeout(absl::Duration timeout);
  absl::Status SetCompression(absl::string_view compression);  // gzip | none
  void SetInsecure(bool insecure) { insecure_ = insecure; }
  void SetCertificateFile(std::string path) { certificate_file_ = std::move(path); }
  void SetRetryPolicy(const RetryPolicy& policy) { retry_ = policy; }
  absl::Status SetBatch(const BatchConfig& batch);
  void SetScopeVersion(std::string version) { scope_version_ = std::move(version); }

  OtlpProtocol protocol() const { return protocol_; }
  const OtlpHeaders& headers() const { return headers_; }
  absl::Duration timeout() const { return timeout_; }
  bool gzip() const { return gzip_; }
  const std::string& certificate_file() const { return certificate_file_; }
  const RetryPolicy& retry() const { return retry_; }
  const BatchConfig& batch() const { return batch_; }
  const std::string& scope_version() const { return scope_version_; }

  // Applies the endpoint rules for the chosen protocol.
  absl::StatusOr<OtlpTarget> ResolveTarget() const;
  // One line for logs: "http/protobuf http://host:4318/v1/traces gzip timeout=10s".
  std::string Describe() const;

 private:
  OtlpProtocol protocol_ = OtlpProtocol::kHttpProtobuf;
  std::string base_endpoint_;    // OTEL_EXPORTER_OTLP_ENDPOINT
  std::string traces_endpoint_;  // OTEL_EXPORTER_OTLP_TRACES_ENDPOINT
  OtlpHeaders headers_;
  absl::Duration timeout_ = absl::Seconds(10);
  bool gzip_ = false;
  std::optional<bool> insecure_;
  std::string certificate_file_;
  RetryPolicy retry_;
  BatchConfig batch_;
  std::string scope_version_;
};

// Parses the W3C-baggage-like header list "k1=v1,k2=v2": entries trimmed,
// values percent-decoded. An entry without '=' or with an empty key is an error.
absl::StatusOr<OtlpHeaders> ParseOtlpHeaders(absl::string_view text);

// Percent-decoding (%XX); '+' is kept as is. Error on a malformed escape.
absl::StatusOr<std::string> PercentDecode(absl::string_view text);

}  // namespace weft
