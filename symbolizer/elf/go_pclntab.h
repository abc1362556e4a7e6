// Function entries of a Go executable from its .gopclntab section, which the
// Go runtime itself needs (tracebacks) and which therefore survives
// `strip` and `-ldflags=-s`. Layout of Go 1.18 and later (header magic
// 0xfffffff0 / 0xfffffff1); older tables are reported as unsupported.
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/statusor.h"

namespace weft::elf {

struct GoFunction {
  uint64_t address = 0;  // virtual address of the entry
  uint64_t size = 0;     // bytes up to the next function's entry
};

// Looks up `names` in a .gopclntab section's bytes. Names that are not in
// the table are absent from the result; an error when the table's format is
// not understood.
absl::StatusOr<std::map<std::string, GoFunction>> GoPclntabFunctions(
    std::string_view pclntab, const std::vector<std::string>& names);

}  // namespace weft::elf
