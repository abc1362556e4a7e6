#include "exporters/otlp/retry_policy.h"

#include <gtest/gtest.h>

namespace weft {
namespace {

TEST(RetryPolicy, RetryableGrpcCodes) {
  // grpc::StatusCode values.
  for (int code : {1, 4, 10, 11, 14, 15}) EXPECT_TRUE(IsRetryableGrpcCode(code, false)) << code;
  for (int code : {0, 2, 3, 5, 6, 7, 9, 12, 13, 16}) {
    EXPECT_FALSE(IsRetryableGrpcCode(code, false)) << code;
    EXPECT_FALSE(IsRetryableGrpcCode(code, true)) << code;
  }
  EXPECT_FALSE(IsRetryableGrpcCode(8, false)) << "RESOURCE_EXHAUSTED without RetryInfo";
  EXPECT_TRUE(IsRetryableGrpcCode(8, true)) << "RESOURCE_EXHAUSTED with RetryInfo";
}

TEST(RetryPolicy, RetryableHttpStatuses) {
  for (int status : {429, 502, 503, 504}) EXPECT_TRUE(IsRetryableHttpStatus(status)) << status;
  for (int status : {200, 400, 401, 403, 404, 413, 500, 501}) {
    EXPECT_FALSE(IsRetryableHttpStatus(status)) << status;
  }
}

TEST(RetryPolicy, BackoffGrowsIsCappedAndJittered) {
  RetryPolicy policy;  // 1s initial, x1.5, 5s cap
  EXPECT_EQ(BackoffDelay(policy, 0, 1.0), absl::Seconds(1));
  EXPECT_EQ(BackoffDelay(policy, 0, 0.0), absl::Milliseconds(500));
  EXPECT_EQ(BackoffDelay(policy, 1, 1.0), absl::Milliseconds(1500));
  EXPECT_EQ(BackoffDelay(policy, 2, 1.0), absl::Milliseconds(2250));
  EXPECT_EQ(BackoffDelay(policy, 10, 1.0), absl::Seconds(5));
  EXPECT_EQ(BackoffDelay(policy, 10, 0.0), absl::Milliseconds(2500));
  EXPECT_EQ(BackoffDelay(policy, 0, 7.0), absl::Seconds(1)) << "jitter fraction is clamped";
}

TEST(RetryPolicy, ParsesRetryAfterSecondsAndDates) {
  const absl::Time now = absl::FromUnixSeconds(784111777);  // Sun, 06 Nov 1994 08:49:37 GMT
  EXPECT_EQ(ParseRetryAfter("120", now), absl::Seconds(120));
  EXPECT_EQ(ParseRetryAfter(" 0 ", now), absl::ZeroDuration());
  EXPECT_EQ(ParseRetryAfter("Sun, 06 Nov 1994 08:49:47 GMT", now), absl::Seconds(10));
  EXPECT_EQ(ParseRetryAfter("Sun, 06 Nov 1994 08:00:00 GMT", now), absl::ZeroDuration());
  EXPECT_FALSE(ParseRetryAfter("", now).has_value());
  EXPECT_FALSE(ParseRetryAfter("-3", now).has_value());
  EXPECT_FALSE(ParseRetryAfter("soon", now).has_value());
}

TEST(RetryPolicy, NextDelayPrefersServerAndRespectsDeadline) {
  RetryPolicy policy;
  const absl::Time now = absl::FromUnixSeconds(1000);
  EXPECT_EQ(NextRetryDelay(policy, 0, 1.0, std::nullopt, now, now + absl::Seconds(10)),
            absl::Seconds(1));
  EXPECT_EQ(NextRetryDelay(policy, 0, 1.0, absl::Seconds(3), now, now + absl::Seconds(10)),
            absl::Seconds(3));
  EXPECT_FALSE(
      NextRetryDelay(policy, 0, 1.0, absl::Seconds(30), now, now + absl::Seconds(10)).has_value())
      << "server asks for longer than we may wait";
  EXPECT_FALSE(
      NextRetryDelay(policy, 5, 1.0, std::nullopt, now, now + absl::Seconds(2)).has_value());
}

}  // namespace
}  // namespace weft
