#include "agent/protocols/http1/message_start.h"

#include <http_parser.h>

#include <array>
#include <cctype>

namespace weft::http1 {
namespace {

constexpr std::string_view kMethods[] = {
#define WEFT_METHOD_NAME(num, name, string) #string,
    HTTP_METHOD_MAP(WEFT_METHOD_NAME)
#undef WEFT_METHOD_NAME
};

bool IsDigit(char c) { return c >= '0' && c <= '9'; }

bool PlausibleTargetStart(char c) {
  // origin-form '/', asterisk-form '*', absolute-form "http://", authority-form host.
  return c == '/' || c == '*' || std::isalnum(static_cast<unsigned char>(c)) || c == '[';
}

StartMatch MatchStatusLine(std::string_view b) {
  static constexpr std::string_view kPrefix = "HTTP/1.";
  for (size_t i = 0; i < kPrefix.size(); ++i) {
    if (i >= b.size()) return StartMatch::kNeedMore;
    if (b[i] != kPrefix[i]) return StartMatch::kNo;
  }
  // "HTTP/1.x ddd": minor version digit, space, three-digit status 1xx..5xx.
  const size_t kLength = 12;
  for (size_t i = kPrefix.size(); i < kLength; ++i) {
    if (i >= b.size()) return StartMatch::kNeedMore;
    char c = b[i];
    bool ok = false;
    switch (i) {
      case 7:
        ok = c == '0' || c == '1';
        break;
      case 8:
        ok = c == ' ';
        break;
      case 9:
        ok = c >= '1' && c <= '5';
        break;
      default:
        ok = IsDigit(c);
        break;
    }
    if (!ok) return StartMatch::kNo;
  }
  return StartMatch::kResponse;
}

StartMatch MatchRequestLine(std::string_view b) {
  bool need_more = false;
  for (std::string_view method : kMethods) {
    size_t n = method.size();
    size_t common = std::min(n, b.size());
    if (b.substr(0, common) != method.substr(0, common)) continue;
    if (b.size() < n + 2) {
      // "GE", "GET", "GET ": still possible unless the byte after the method is wrong.
      if (b.size() > n && b[n] != ' ') continue;
      need_more = true;
      continue;
    }
    if (b[n] == ' ' && PlausibleTargetStart(b[n + 1])) return StartMatch::kRequest;
  }
  return need_more ? StartMatch::kNeedMore : StartMatch::kNo;
}

}  // namespace

StartMatch MatchMessageStart(std::string_view bytes) {
  if (bytes.empty()) return StartMatch::kNeedMore;
  char first = bytes[0];
  if (first < 'A' || first > 'Z') return StartMatch::kNo;
  StartMatch status = first == 'H' ? MatchStatusLine(bytes) : StartMatch::kNo;
  if (status == StartMatch::kResponse) return status;
  StartMatch request = MatchRequestLine(bytes);
  if (request == StartMatch::kRequest) return request;
  if (status == StartMatch::kNeedMore || request == StartMatch::kNeedMore) {
    return StartMatch::kNeedMore;
  }
  return StartMatch::kNo;
}

}  // namespace weft::http1
