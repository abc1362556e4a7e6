#include "agent/protocols/http1/message_start.h"

#include <llhttp.h>

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

// What may follow "<METHOD> ": origin-form '/', asterisk-form '*',
// absolute-form "http..." ; CONNECT takes an authority (host:port). Anything
// else (e.g. Redis' inline "GET key") is not HTTP.
StartMatch MatchTargetStart(std::string_view method, std::string_view target) {
  if (target.empty()) return StartMatch::kNeedMore;
  char c = target[0];
  if (method == "CONNECT") {
    bool ok = std::isalnum(static_cast<unsigned char>(c)) || c == '[';
    return ok ? StartMatch::kRequest : StartMatch::kNo;
  }
  if (c == '/' || c == '*') return StartMatch::kRequest;
  static constexpr std::string_view kScheme = "http";
  for (size_t i = 0; i < kScheme.size(); ++i) {
    if (i >= target.size()) return StartMatch::kNeedMore;
    if (std::tolower(static_cast<unsigned char>(target[i])) != kScheme[i]) return StartMatch::kNo;
  }
  return StartMatch::kRequest;
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
    if (b.size() <= n) {
      need_more = true;  // "GE", "GET"
      continue;
    }
    if (b[n] != ' ') continue;
    StartMatch target = MatchTargetStart(method, b.substr(n + 1));
    if (target == StartMatch::kRequest) return target;
    if (target == StartMatch::kNeedMore) need_more = true;
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
