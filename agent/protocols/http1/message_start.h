// Recognises the first bytes of an HTTP/1.x request line or status line, so a
// stream joined mid-way or cut by a gap can resume at the next message.
#pragma once

#include <cstddef>
#include <string_view>

namespace weft::http1 {

enum class StartMatch : unsigned char {
  kNo,        // these bytes cannot start a message
  kNeedMore,  // a prefix of a possible start: wait for more bytes
  kRequest,   // "<METHOD> <target-start>"
  kResponse,  // "HTTP/1.<d> <ddd>"
};

// Longest prefix MatchMessageStart ever needs before deciding.
inline constexpr size_t kMaxStartProbe = 16;

// Looks only at the beginning of `bytes`. Methods are the ones llhttp
// accepts; a request target must begin like a path, '*', or an absolute URL.
StartMatch MatchMessageStart(std::string_view bytes);

}  // namespace weft::http1
