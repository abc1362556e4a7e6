#include "agent/protocols/http1/message_start.h"

#include <gtest/gtest.h>

namespace weft::http1 {
namespace {

TEST(MessageStart, RecognisesRequestLines) {
  EXPECT_EQ(MatchMessageStart("GET / HTTP/1.1"), StartMatch::kRequest);
  EXPECT_EQ(MatchMessageStart("POST /x"), StartMatch::kRequest);
  EXPECT_EQ(MatchMessageStart("OPTIONS * HTTP/1.1"), StartMatch::kRequest);
  EXPECT_EQ(MatchMessageStart("GET http://a/ HTTP/1.1"), StartMatch::kRequest);
  EXPECT_EQ(MatchMessageStart("GET HTTPS://a/ HTTP/1.1"), StartMatch::kRequest);
  EXPECT_EQ(MatchMessageStart("CONNECT host:443 HTTP/1.1"), StartMatch::kRequest);
  EXPECT_EQ(MatchMessageStart("M-SEARCH * HTTP/1.1"), StartMatch::kRequest);
  EXPECT_EQ(MatchMessageStart("HEAD /"), StartMatch::kRequest);
}

TEST(MessageStart, RecognisesStatusLines) {
  EXPECT_EQ(MatchMessageStart("HTTP/1.1 200 OK"), StartMatch::kResponse);
  EXPECT_EQ(MatchMessageStart("HTTP/1.0 404 Not Found"), StartMatch::kResponse);
  EXPECT_EQ(MatchMessageStart("HTTP/1.1 600 X"), StartMatch::kNo);
  EXPECT_EQ(MatchMessageStart("HTTP/2.0 200 OK"), StartMatch::kNo);
  EXPECT_EQ(MatchMessageStart("HTTP/1.1 2x0"), StartMatch::kNo);
}

TEST(MessageStart, AsksForMoreOnPrefixes) {
  EXPECT_EQ(MatchMessageStart(""), StartMatch::kNeedMore);
  EXPECT_EQ(MatchMessageStart("G"), StartMatch::kNeedMore);
  EXPECT_EQ(MatchMessageStart("GET"), StartMatch::kNeedMore);
  EXPECT_EQ(MatchMessageStart("GET "), StartMatch::kNeedMore);
  EXPECT_EQ(MatchMessageStart("H"), StartMatch::kNeedMore);
  EXPECT_EQ(MatchMessageStart("HE"), StartMatch::kNeedMore);
  EXPECT_EQ(MatchMessageStart("HTTP/1.1 20"), StartMatch::kNeedMore);
  EXPECT_EQ(MatchMessageStart("UNSUBSCRIB"), StartMatch::kNeedMore);
  EXPECT_EQ(MatchMessageStart("GET h"), StartMatch::kNeedMore);
  EXPECT_EQ(MatchMessageStart("GET htt"), StartMatch::kNeedMore);
}

TEST(MessageStart, RejectsOtherBytes) {
  EXPECT_EQ(MatchMessageStart("get / HTTP/1.1"), StartMatch::kNo);
  EXPECT_EQ(MatchMessageStart("GETX / HTTP/1.1"), StartMatch::kNo);
  EXPECT_EQ(MatchMessageStart("GET  /"), StartMatch::kNo);
  EXPECT_EQ(MatchMessageStart("PRI * HTTP/2.0"), StartMatch::kNo);
  EXPECT_EQ(MatchMessageStart("{\"json\":1}"), StartMatch::kNo);
  EXPECT_EQ(MatchMessageStart("\x16\x03\x01"), StartMatch::kNo);
  EXPECT_EQ(MatchMessageStart("Hello world"), StartMatch::kNo);
  // Redis inline commands look like request lines but have no target.
  EXPECT_EQ(MatchMessageStart("GET session:42\r\n"), StartMatch::kNo);
  EXPECT_EQ(MatchMessageStart("SET k v\r\n"), StartMatch::kNo);
  EXPECT_EQ(MatchMessageStart("GET hxxp://"), StartMatch::kNo);
}

TEST(MessageStart, NeverNeedsMoreThanTheProbe) {
  // Any 16 bytes decide; the resync carry relies on it.
  for (std::string_view s :
       {"UNSUBSCRIBE /abc", "HTTP/1.1 200 OKK", "MKCALENDAR /x/yz", "UNSUBSCRIBE http"}) {
    ASSERT_EQ(s.size(), kMaxStartProbe);
    EXPECT_NE(MatchMessageStart(s), StartMatch::kNeedMore) << s;
  }
}

}  // namespace
}  // namespace weft::http1
