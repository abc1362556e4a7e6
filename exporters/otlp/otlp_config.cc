#include "exporters/otlp/otlp_config.h"

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"

namespace weft {

namespace {

constexpr absl::string_view kDefaultHttpEndpoint = "http://localhost:4318";
constexpr absl::string_view kDefaultGrpcEndpoint = "http://localhost:4317";
constexpr absl::string_view kTracesPath = "/v1/traces";

std::optional<std::string> NonEmpty(const EnvLookup& env, absl::string_view name) {
  std::optional<std::string> value = env(std::string(name));
  if (!value) return std::nullopt;
  std::string trimmed(absl::StripAsciiWhitespace(*value));
  if (trimmed.empty()) return std::nullopt;
  return trimmed;
}

// The trace-specific variable wins over the generic one; returns the name used too.
std::optional<std::pair<std::string, std::string>> Pick(const EnvLookup& env,
                                                        absl::string_view suffix) {
  const std::string traces = absl::StrCat("OTEL_EXPORTER_OTLP_TRACES_", suffix);
  if (auto v = NonEmpty(env, traces)) return std::make_pair(traces, *v);
  const std::string generic = absl::StrCat("OTEL_EXPORTER_OTLP_", suffix);
  if (auto v = NonEmpty(env, generic)) return std::make_pair(generic, *v);
  return std::nullopt;
}

absl::Status Named(absl::string_view variable, const absl::Status& status) {
  if (status.ok()) return status;
  return absl::Status(status.code(), absl::StrCat(variable, ": ", status.message()));
}

int HexValue(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

struct ParsedUrl {
  std::string scheme;  // empty when absent
  std::string host_port;
  std::string path;  // includes the leading '/', may be empty
};

absl::StatusOr<ParsedUrl> SplitUrl(absl::string_view url) {
  ParsedUrl parsed;
  absl::string_view rest = url;
  if (size_t sep = rest.find("://"); sep != absl::string_view::npos) {
    parsed.scheme = absl::AsciiStrToLower(rest.substr(0, sep));
    rest.remove_prefix(sep + 3);
  }
  const size_t slash = rest.find('/');
  parsed.host_port = std::string(rest.substr(0, slash));
  if (slash != absl::string_view::npos) parsed.path = std::string(rest.substr(slash));
  if (parsed.host_port.empty()) {
    return absl::InvalidArgumentError(
        absl::StrCat("endpoint '", url, "' has no host; use e.g. http://collector:4318"));
  }
  if (!parsed.scheme.empty() && parsed.scheme != "http" && parsed.scheme != "https") {
    return absl::InvalidArgumentError(absl::StrCat("endpoint '", url, "' has scheme '",
                                                   parsed.scheme,
                                                   "'; only http:// and https:// are supported"));
  }
  return parsed;
}

bool HasPort(absl::string_view host_port) {
  // "[::1]:4317" or "host:4317"; a bare IPv6 literal in brackets has no port.
  const size_t bracket = host_port.rfind(']');
  const size_t colon = host_port.rfind(':');
  return colon != absl::string_view::npos &&
         (bracket == absl::string_view::npos || colon > bracket);
}

}  // namespace

absl::StatusOr<std::string> PercentDecode(absl::string_view text) {
  std::string out;
  out.reserve(text.size());
  for (size_t i = 0; i < text.size(); ++i) {
    if (text[i] != '%') {
      out.push_back(text[i]);
      continue;
    }
    if (i + 2 >= text.size()) {
      return absl::InvalidArgumentError(absl::StrCat("truncated %-escape in '", text, "'"));
    }
    const int hi = HexValue(text[i + 1]);
    const int lo = HexValue(text[i + 2]);
    if (hi < 0 || lo < 0) {
      return absl::InvalidArgumentError(absl::StrCat("bad %-escape in '", text, "'"));
    }
    out.push_back(static_cast<char>(hi * 16 + lo));
    i += 2;
  }
  return out;
}

absl::StatusOr<OtlpHeaders> ParseOtlpHeaders(absl::string_view text) {
  OtlpHeaders headers;
  for (absl::string_view entry : absl::StrSplit(text, ',')) {
    entry = absl::StripAsciiWhitespace(entry);
    if (entry.empty()) continue;
    const size_t eq = entry.find('=');
    if (eq == absl::string_view::npos) {
      return absl::InvalidArgumentError(absl::StrCat(
          "header entry '", entry, "' has no '='; write headers as key1=value1,key2=value2"));
    }
    absl::string_view key = absl::StripAsciiWhitespace(entry.substr(0, eq));
    absl::string_view raw_value = absl::StripAsciiWhitespace(entry.substr(eq + 1));
    if (key.empty()) {
      return absl::InvalidArgumentError(
          absl::StrCat("header entry '", entry, "' has an empty key"));
    }
    absl::StatusOr<std::string> decoded_key = PercentDecode(key);
    if (!decoded_key.ok()) return decoded_key.status();
    absl::StatusOr<std::string> value = PercentDecode(raw_value);
    if (!value.ok()) {
      return absl::InvalidArgumentError(
          absl::StrCat("header '", key, "': ", value.status().message(),
                       "; percent-encode reserved characters, e.g. a space as %20"));
    }
    headers.emplace_back(*decoded_key, *value);
  }
  return headers;
}

absl::Status OtlpConfig::SetEndpoint(absl::string_view base_endpoint) {
  absl::StatusOr<ParsedUrl> parsed = SplitUrl(base_endpoint);
  if (!parsed.ok()) return parsed.status();
  base_endpoint_ = std::string(base_endpoint);
  return absl::OkStatus();
}

absl::Status OtlpConfig::SetTracesEndpoint(absl::string_view url) {
  absl::StatusOr<ParsedUrl> parsed = SplitUrl(url);
  if (!parsed.ok()) return parsed.status();
  traces_endpoint_ = std::string(url);
  return absl::OkStatus();
}

absl::Status OtlpConfig::SetProtocol(absl::string_view protocol) {
  const std::string p = absl::AsciiStrToLower(absl::StripAsciiWhitespace(protocol));
  if (p == "grpc") {
    protocol_ = OtlpProtocol::kGrpc;
  } else if (p == "http/protobuf") {
    protocol_ = OtlpProtocol::kHttpProtobuf;
  } else if (p == "http/json") {
    return absl::InvalidArgumentError(
        "protocol 'http/json' is not supported by weft; use http/protobuf or grpc");
  } else {
    return absl::InvalidArgumentError(
        absl::StrCat("unknown protocol '", protocol, "'; use grpc or http/protobuf"));
  }
  return absl::OkStatus();
}

absl::Status OtlpConfig::SetHeaders(absl::string_view headers) {
  absl::StatusOr<OtlpHeaders> parsed = ParseOtlpHeaders(headers);
  if (!parsed.ok()) return parsed.status();
  headers_ = *std::move(parsed);
  return absl::OkStatus();
}

absl::Status OtlpConfig::SetTimeout(absl::Duration timeout) {
  if (timeout <= absl::ZeroDuration()) {
    return absl::InvalidArgumentError("timeout must be above 0 ms (default 10000)");
  }
  timeout_ = timeout;
  return absl::OkStatus();
}

absl::Status OtlpConfig::SetCompression(absl::string_view compression) {
  const std::string c = absl::AsciiStrToLower(absl::StripAsciiWhitespace(compression));
  if (c == "gzip") {
    gzip_ = true;
  } else if (c == "none" || c.empty()) {
    gzip_ = false;
  } else {
    return absl::InvalidArgumentError(
        absl::StrCat("unknown compression '", compression, "'; use gzip or none"));
  }
  return absl::OkStatus();
}

absl::Status OtlpConfig::SetBatch(const BatchConfig& batch) {
  if (absl::Status valid = batch.Validate(); !valid.ok()) return valid;
  batch_ = batch;
  return absl::OkStatus();
}

bool OtlpConfig::EndpointConfigured(const EnvLookup& env) {
  return NonEmpty(env, "OTEL_EXPORTER_OTLP_ENDPOINT") ||
         NonEmpty(env, "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT");
}

absl::StatusOr<OtlpConfig> OtlpConfig::FromEnvironment(const EnvLookup& env) {
  OtlpConfig config;
  if (auto v = Pick(env, "PROTOCOL")) {
    if (absl::Status s = Named(v->first, config.SetProtocol(v->second)); !s.ok()) return s;
  }
  if (auto v = NonEmpty(env, "OTEL_EXPORTER_OTLP_ENDPOINT")) {
    if (absl::Status s = Named("OTEL_EXPORTER_OTLP_ENDPOINT", config.SetEndpoint(*v)); !s.ok()) {
      return s;
    }
  }
  if (auto v = NonEmpty(env, "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT")) {
    if (absl::Status s = Named("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT", config.SetTracesEndpoint(*v));
        !s.ok()) {
      return s;
    }
  }
  if (auto v = Pick(env, "HEADERS")) {
    if (absl::Status s = Named(v->first, config.SetHeaders(v->second)); !s.ok()) return s;
  }
  if (auto v = Pick(env, "TIMEOUT")) {
    absl::StatusOr<std::optional<int64_t>> ms =
        ParseNonNegativeIntEnv(env, v->first, "milliseconds", "10000");
    if (!ms.ok()) return ms.status();
    if (absl::Status s = Named(v->first, config.SetTimeout(absl::Milliseconds(**ms))); !s.ok()) {
      return s;
    }
  }
  if (auto v = Pick(env, "COMPRESSION")) {
    if (absl::Status s = Named(v->first, config.SetCompression(v->second)); !s.ok()) return s;
  }
  if (auto v = Pick(env, "INSECURE")) {
    absl::StatusOr<std::optional<bool>> insecure = ParseBoolEnv(env, v->first);
    if (!insecure.ok()) return insecure.status();
    config.insecure_ = **insecure;
  }
  if (auto v = Pick(env, "CERTIFICATE")) config.certificate_file_ = v->second;
  absl::StatusOr<BatchConfig> batch = BatchConfig::FromEnvironment(env);
  if (!batch.ok()) return batch.status();
  config.batch_ = *batch;
  if (absl::StatusOr<OtlpTarget> target = config.ResolveTarget(); !target.ok()) {
    return target.status();
  }
  return config;
}

absl::StatusOr<OtlpTarget> OtlpConfig::ResolveTarget() const {
  OtlpTarget target;
  if (protocol_ == OtlpProtocol::kHttpProtobuf) {
    std::string url;
    if (!traces_endpoint_.empty()) {
      url = traces_endpoint_;
    } else {
      absl::string_view base = base_endpoint_.empty() ? kDefaultHttpEndpoint : base_endpoint_;
      url = absl::StrCat(absl::StripSuffix(base, "/"), kTracesPath);
    }
    absl::StatusOr<ParsedUrl> parsed = SplitUrl(url);
    if (!parsed.ok()) return parsed.status();
    if (parsed->scheme.empty()) {
      return absl::InvalidArgumentError(
          absl::StrCat("OTLP/HTTP endpoint '", url,
                       "' needs a scheme; write http://host:4318 (or https:// for TLS)"));
    }
    target.address = url;
    target.use_tls = parsed->scheme == "https";
    return target;
  }
  // gRPC: only scheme, host and port matter; a path is ignored.
  absl::string_view endpoint = !traces_endpoint_.empty() ? absl::string_view(traces_endpoint_)
                               : !base_endpoint_.empty() ? absl::string_view(base_endpoint_)
                                                         : kDefaultGrpcEndpoint;
  absl::StatusOr<ParsedUrl> parsed = SplitUrl(endpoint);
  if (!parsed.ok()) return parsed.status();
  if (parsed->scheme == "https") {
    target.use_tls = true;
  } else if (parsed->scheme == "http") {
    target.use_tls = false;
  } else {
    // The spec: INSECURE only matters without a scheme, and defaults to false (TLS).
    target.use_tls = !insecure_.value_or(false);
  }
  target.address = parsed->host_port;
  if (!HasPort(target.address)) absl::StrAppend(&target.address, ":4317");
  return target;
}

std::string OtlpConfig::Describe() const {
  absl::StatusOr<OtlpTarget> target = ResolveTarget();
  return absl::StrCat(protocol_ == OtlpProtocol::kGrpc ? "grpc " : "http/protobuf ",
                      target.ok() ? target->address : "<invalid endpoint>",
                      target.ok() && target->use_tls ? " tls" : " plaintext", gzip_ ? " gzip" : "",
                      " timeout=", absl::FormatDuration(timeout_),
                      headers_.empty() ? "" : absl::StrCat(" headers=", headers_.size()));
}

}  // namespace weft
