// gzip (RFC 1952) framing for OTLP request bodies.
#pragma once

#include <string>
#include "absl/strings/string_view.h"

#include "absl/status/statusor.h"

namespace weft {

absl::StatusOr<std::string> GzipCompress(absl::string_view data);
absl::StatusOr<std::string> GzipDecompress(absl::string_view data);

}  // namespace weft
