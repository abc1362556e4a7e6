#include "agent/spans/url_attributes.h"

#include <gtest/gtest.h>

namespace weft {
namespace {

TEST(RouteHeuristic, IdSegments) {
  EXPECT_TRUE(IsIdSegment("42"));
  EXPECT_TRUE(IsIdSegment("550e8400-e29b-41d4-a716-446655440000"));
  EXPECT_TRUE(IsIdSegment("0123456789abcdef"));
  EXPECT_TRUE(IsIdSegment("DEADBEEFDEADBEEF00"));
  EXPECT_FALSE(IsIdSegment("cafe"));             // short hex is a word
  EXPECT_FALSE(IsIdSegment("0123456789abcde"));  // 15 hex digits
  EXPECT_FALSE(IsIdSegment("users"));
  EXPECT_FALSE(IsIdSegment("v2"));
  EXPECT_FALSE(IsIdSegment(""));
  EXPECT_FALSE(IsIdSegment("550e8400-e29b-41d4-a716-44665544000g"));
}

TEST(RouteHeuristic, Routes) {
  EXPECT_EQ(InferRoute("/users/42"), "/users/{id}");
  EXPECT_EQ(InferRoute("/users/42/orders/550e8400-e29b-41d4-a716-446655440000"),
            "/users/{id}/orders/{id}");
  EXPECT_EQ(InferRoute("/blobs/0123456789abcdef0123/meta"), "/blobs/{id}/meta");
  EXPECT_EQ(InferRoute("/api/v2/health"), "/api/v2/health");
  EXPECT_EQ(InferRoute("/items/7/"), "/items/{id}/");
  EXPECT_EQ(InferRoute("/"), "/");
  EXPECT_EQ(InferRoute(""), "/");
  EXPECT_EQ(InferRoute("//x//1"), "//x//{id}");
}

TEST(Redaction, QueryValuesReplacedKeysKept) {
  EXPECT_EQ(RedactQueryValues("a=1&b=two"), "a=REDACTED&b=REDACTED");
  EXPECT_EQ(RedactQueryValues("flag&x="), "flag&x=REDACTED");
  EXPECT_EQ(RedactQueryValues(""), "");
  EXPECT_EQ(RedactQueryValues("a=1&&b=2"), "a=REDACTED&&b=REDACTED");
  EXPECT_EQ(RedactQueryValues("token=a=b"), "token=REDACTED");
}

TEST(Redaction, SensitiveHeaders) {
  EXPECT_TRUE(IsSensitiveHeader("Authorization"));
  EXPECT_TRUE(IsSensitiveHeader("proxy-authorization"));
  EXPECT_TRUE(IsSensitiveHeader("COOKIE"));
  EXPECT_TRUE(IsSensitiveHeader("Set-Cookie"));
  EXPECT_TRUE(IsSensitiveHeader("x-api-key"));
  EXPECT_FALSE(IsSensitiveHeader("Content-Type"));
}

TEST(Targets, SplitsOriginAndAbsoluteForms) {
  TargetParts origin = SplitTarget("/p/q?x=1#frag");
  EXPECT_FALSE(origin.absolute);
  EXPECT_EQ(origin.path, "/p/q");
  EXPECT_TRUE(origin.has_query);
  EXPECT_EQ(origin.query, "x=1");

  TargetParts absolute = SplitTarget("http://user:pw@example.com:8080/a?b=c");
  EXPECT_TRUE(absolute.absolute);
  EXPECT_EQ(absolute.scheme, "http");
  EXPECT_EQ(absolute.host, "example.com");
  EXPECT_EQ(absolute.port, "8080");
  EXPECT_TRUE(absolute.has_userinfo);
  EXPECT_EQ(absolute.path, "/a");
  EXPECT_EQ(absolute.query, "b=c");

  TargetParts bare = SplitTarget("http://[::1]");
  EXPECT_EQ(bare.host, "[::1]");
  EXPECT_EQ(bare.path, "");
  EXPECT_FALSE(SplitTarget("*").has_query);
}

TEST(Targets, HostHeader) {
  std::string_view host;
  uint16_t port = 1;
  ASSERT_TRUE(ParseHostHeader("example.com:8080", &host, &port));
  EXPECT_EQ(host, "example.com");
  EXPECT_EQ(port, 8080);
  ASSERT_TRUE(ParseHostHeader(" example.com ", &host, &port));
  EXPECT_EQ(host, "example.com");
  EXPECT_EQ(port, 0);
  ASSERT_TRUE(ParseHostHeader("[::1]:9", &host, &port));
  EXPECT_EQ(host, "::1");
  EXPECT_EQ(port, 9);
  EXPECT_FALSE(ParseHostHeader("", &host, &port));
  EXPECT_FALSE(ParseHostHeader("a:99999", &host, &port));
  EXPECT_FALSE(ParseHostHeader("a:x", &host, &port));
  EXPECT_FALSE(ParseHostHeader("[::1", &host, &port));
  EXPECT_FALSE(ParseHostHeader("a b", &host, &port));
}

}  // namespace
}  // namespace weft
