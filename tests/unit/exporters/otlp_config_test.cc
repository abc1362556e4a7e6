#include "exporters/otlp/otlp_config.h"

#include <map>

#include <gmock/gmock.h>
#include <gtest/gtest.h>

namespace weft {
namespace {

using ::testing::HasSubstr;

EnvLookup FakeEnv(std::map<std::string, std::string> vars) {
  return [vars = std::move(vars)](const std::string& name) -> std::optional<std::string> {
    auto it = vars.find(name);
    if (it == vars.end()) return std::nullopt;
    return it->second;
  };
}

TEST(OtlpConfig, DefaultsFollowTheSpec) {
  absl::StatusOr<OtlpConfig> config = OtlpConfig::FromEnvironment(FakeEnv({}));
  ASSERT_TRUE(config.ok()) << config.status();
  EXPECT_EQ(config->protocol(), OtlpProtocol::kHttpProtobuf);
  EXPECT_EQ(config->timeout(), absl::Seconds(10));
  EXPECT_FALSE(config->gzip());
  EXPECT_TRUE(config->headers().empty());
  absl::StatusOr<OtlpTarget> target = config->ResolveTarget();
  ASSERT_TRUE(target.ok());
  EXPECT_EQ(target->address, "http://localhost:4318/v1/traces");
  EXPECT_FALSE(target->use_tls);
  EXPECT_EQ(config->batch().max_queue_size, 65536u);
  EXPECT_FALSE(OtlpConfig::EndpointConfigured(FakeEnv({})));
}

TEST(OtlpConfig, HttpAppendsSignalPathToGenericEndpointOnly) {
  auto config = OtlpConfig::FromEnvironment(
      FakeEnv({{"OTEL_EXPORTER_OTLP_ENDPOINT", "https://collector:4318/base/"}}));
  ASSERT_TRUE(config.ok());
  EXPECT_EQ(config->ResolveTarget()->address, "https://collector:4318/base/v1/traces");
  EXPECT_TRUE(config->ResolveTarget()->use_tls);

  config = OtlpConfig::FromEnvironment(
      FakeEnv({{"OTEL_EXPORTER_OTLP_ENDPOINT", "http://ignored:1"},
               {"OTEL_EXPORTER_OTLP_TRACES_ENDPOINT", "http://collector:9999/custom"}}));
  ASSERT_TRUE(config.ok());
  EXPECT_EQ(config->ResolveTarget()->address, "http://collector:9999/custom");
  EXPECT_TRUE(OtlpConfig::EndpointConfigured(
      FakeEnv({{"OTEL_EXPORTER_OTLP_TRACES_ENDPOINT", "http://collector:9999/custom"}})));
}

TEST(OtlpConfig, GrpcTargetIsHostPortAndSchemeDecidesTls) {
  auto config = OtlpConfig::FromEnvironment(FakeEnv({{"OTEL_EXPORTER_OTLP_PROTOCOL", "grpc"}}));
  ASSERT_TRUE(config.ok());
  EXPECT_EQ(config->ResolveTarget()->address, "localhost:4317");
  EXPECT_FALSE(config->ResolveTarget()->use_tls);

  config = OtlpConfig::FromEnvironment(FakeEnv({{"OTEL_EXPORTER_OTLP_TRACES_PROTOCOL", "grpc"},
                                                {"OTEL_EXPORTER_OTLP_PROTOCOL", "http/protobuf"},
                                                {"OTEL_EXPORTER_OTLP_ENDPOINT", "collector"}}));
  ASSERT_TRUE(config.ok());
  EXPECT_EQ(config->protocol(), OtlpProtocol::kGrpc);
  EXPECT_EQ(config->ResolveTarget()->address, "collector:4317");
  EXPECT_TRUE(config->ResolveTarget()->use_tls) << "no scheme and INSECURE unset: TLS";

  config = OtlpConfig::FromEnvironment(FakeEnv({{"OTEL_EXPORTER_OTLP_PROTOCOL", "grpc"},
                                                {"OTEL_EXPORTER_OTLP_ENDPOINT", "collector:5317"},
                                                {"OTEL_EXPORTER_OTLP_INSECURE", "true"}}));
  ASSERT_TRUE(config.ok());
  EXPECT_EQ(config->ResolveTarget()->address, "collector:5317");
  EXPECT_FALSE(config->ResolveTarget()->use_tls);

  config = OtlpConfig::FromEnvironment(
      FakeEnv({{"OTEL_EXPORTER_OTLP_PROTOCOL", "grpc"},
               {"OTEL_EXPORTER_OTLP_ENDPOINT", "https://collector:443/ignored/path"},
               {"OTEL_EXPORTER_OTLP_INSECURE", "true"}}));
  ASSERT_TRUE(config.ok());
  EXPECT_EQ(config->ResolveTarget()->address, "collector:443");
  EXPECT_TRUE(config->ResolveTarget()->use_tls) << "https:// wins over INSECURE";
}

TEST(OtlpConfig, ReadsEveryVariableWithTracesOverridingGeneric) {
  auto config = OtlpConfig::FromEnvironment(FakeEnv({
      {"OTEL_EXPORTER_OTLP_HEADERS", "generic=1"},
      {"OTEL_EXPORTER_OTLP_TRACES_HEADERS", "api-key=se%20cret, tenant = a%2Cb"},
      {"OTEL_EXPORTER_OTLP_TIMEOUT", "2500"},
      {"OTEL_EXPORTER_OTLP_TRACES_TIMEOUT", "1500"},
      {"OTEL_EXPORTER_OTLP_COMPRESSION", "gzip"},
      {"OTEL_EXPORTER_OTLP_TRACES_CERTIFICATE", "/etc/ca.pem"},
      {"OTEL_BSP_SCHEDULE_DELAY", "200"},
      {"OTEL_BSP_EXPORT_TIMEOUT", "7000"},
      {"OTEL_BSP_MAX_QUEUE_SIZE", "100"},
      {"OTEL_BSP_MAX_EXPORT_BATCH_SIZE", "10"},
  }));
  ASSERT_TRUE(config.ok()) << config.status();
  EXPECT_EQ(config->headers(), (OtlpHeaders{{"api-key", "se cret"}, {"tenant", "a,b"}}));
  EXPECT_EQ(config->timeout(), absl::Milliseconds(1500));
  EXPECT_TRUE(config->gzip());
  EXPECT_EQ(config->certificate_file(), "/etc/ca.pem");
  EXPECT_EQ(config->batch().schedule_delay, absl::Milliseconds(200));
  EXPECT_EQ(config->batch().export_timeout, absl::Milliseconds(7000));
  EXPECT_EQ(config->batch().max_queue_size, 100u);
  EXPECT_EQ(config->batch().max_export_batch_size, 10u);
}

TEST(OtlpConfig, EmptyValuesMeanUnset) {
  auto config = OtlpConfig::FromEnvironment(FakeEnv({{"OTEL_EXPORTER_OTLP_TIMEOUT", ""},
                                                     {"OTEL_EXPORTER_OTLP_ENDPOINT", "  "},
                                                     {"OTEL_EXPORTER_OTLP_PROTOCOL", ""}}));
  ASSERT_TRUE(config.ok()) << config.status();
  EXPECT_EQ(config->timeout(), absl::Seconds(10));
  EXPECT_EQ(config->ResolveTarget()->address, "http://localhost:4318/v1/traces");
}

struct BadValue {
  std::string variable;
  std::string value;
  std::string message_part;
};

class OtlpConfigBadValue : public ::testing::TestWithParam<BadValue> {};

TEST_P(OtlpConfigBadValue, NamesTheVariableAndTheFix) {
  const BadValue& bad = GetParam();
  auto config = OtlpConfig::FromEnvironment(FakeEnv({{bad.variable, bad.value}}));
  ASSERT_FALSE(config.ok());
  EXPECT_EQ(config.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(std::string(config.status().message()), HasSubstr(bad.variable));
  EXPECT_THAT(std::string(config.status().message()), HasSubstr(bad.message_part));
}

INSTANTIATE_TEST_SUITE_P(
    All, OtlpConfigBadValue,
    ::testing::Values(
        BadValue{"OTEL_EXPORTER_OTLP_PROTOCOL", "udp", "use grpc or http/protobuf"},
        BadValue{"OTEL_EXPORTER_OTLP_TRACES_PROTOCOL", "http/json", "not supported"},
        BadValue{"OTEL_EXPORTER_OTLP_TIMEOUT", "ten", "whole number of milliseconds"},
        BadValue{"OTEL_EXPORTER_OTLP_TIMEOUT", "-5", "whole number"},
        BadValue{"OTEL_EXPORTER_OTLP_TRACES_TIMEOUT", "0", "above 0"},
        BadValue{"OTEL_EXPORTER_OTLP_COMPRESSION", "zstd", "use gzip or none"},
        BadValue{"OTEL_EXPORTER_OTLP_INSECURE", "yes", "true or false"},
        BadValue{"OTEL_EXPORTER_OTLP_HEADERS", "novalue", "key1=value1"},
        BadValue{"OTEL_EXPORTER_OTLP_HEADERS", "=v", "empty key"},
        BadValue{"OTEL_EXPORTER_OTLP_HEADERS", "k=%zz", "percent-encode"},
        BadValue{"OTEL_EXPORTER_OTLP_ENDPOINT", "ftp://collector", "only http:// and https://"},
        BadValue{"OTEL_EXPORTER_OTLP_TRACES_ENDPOINT", "http:///v1/traces", "no host"},
        BadValue{"OTEL_BSP_MAX_QUEUE_SIZE", "lots", "OTEL_BSP_MAX_QUEUE_SIZE=65536"},
        BadValue{"OTEL_BSP_MAX_EXPORT_BATCH_SIZE", "100000", "must not exceed"},
        BadValue{"OTEL_BSP_SCHEDULE_DELAY", "0", "above 0"}));

TEST(OtlpConfig, HttpEndpointWithoutSchemeIsRejected) {
  auto config =
      OtlpConfig::FromEnvironment(FakeEnv({{"OTEL_EXPORTER_OTLP_ENDPOINT", "collector:4318"}}));
  ASSERT_FALSE(config.ok());
  EXPECT_THAT(std::string(config.status().message()), HasSubstr("needs a scheme"));
}

TEST(OtlpConfig, SettersValidateLikeTheEnvironment) {
  OtlpConfig config;
  EXPECT_TRUE(config.SetProtocol("GRPC").ok());
  EXPECT_EQ(config.protocol(), OtlpProtocol::kGrpc);
  EXPECT_FALSE(config.SetProtocol("smoke").ok());
  EXPECT_TRUE(config.SetEndpoint("http://127.0.0.1:4317").ok());
  EXPECT_EQ(config.ResolveTarget()->address, "127.0.0.1:4317");
  EXPECT_FALSE(config.SetTimeout(absl::ZeroDuration()).ok());
  EXPECT_TRUE(config.SetCompression("GZIP").ok());
  EXPECT_TRUE(config.gzip());
  EXPECT_FALSE(config.SetHeaders("a").ok());
  BatchConfig batch;
  batch.max_export_batch_size = 100000;
  EXPECT_FALSE(config.SetBatch(batch).ok());
  EXPECT_THAT(config.Describe(), HasSubstr("grpc 127.0.0.1:4317 plaintext gzip"));
}

TEST(OtlpHeaders, ParsesTrimsAndDecodes) {
  auto headers = ParseOtlpHeaders(" a=1 ,, b = two%3Dthree ,c=,d=x+y ");
  ASSERT_TRUE(headers.ok()) << headers.status();
  EXPECT_EQ(*headers, (OtlpHeaders{{"a", "1"}, {"b", "two=three"}, {"c", ""}, {"d", "x+y"}}));
  EXPECT_TRUE(ParseOtlpHeaders("")->empty());
  EXPECT_EQ(ParseOtlpHeaders("k=a=b")->front().second, "a=b") << "split at the first '='";
  EXPECT_FALSE(ParseOtlpHeaders("k=%4").ok()) << "truncated escape";
}

TEST(PercentDecode, HandlesEscapes) {
  EXPECT_EQ(*PercentDecode("%41%62c%20%e2%9c%93"), "Abc \xe2\x9c\x93");
  EXPECT_FALSE(PercentDecode("%").ok());
  EXPECT_FALSE(PercentDecode("%g0").ok());
}

}  // namespace
}  // namespace weft
