// A fixed set of spans covering every field and attribute type the exporters
// encode, shared by the end-to-end and independent-decoder tests.
#pragma once

#include <vector>

#include <nlohmann/json.hpp>

#include "agent/model/span.h"

namespace weft::testing {

// `copy` varies the ids so repeated copies are distinct spans.
std::vector<Span> FixtureSpans(int copy = 0);

// The JSON a correct decoder must produce for `spans`, in the receiver's line
// format (without transport/compression), built straight from the values.
std::vector<nlohmann::json> ExpectedJson(const std::vector<Span>& spans);

}  // namespace weft::testing
