// ELF facts about an executable. For now only: is it a Go program? Go needs
// its own context key (goroutine id) and runtime uprobes, and its resources
// report telemetry.sdk.language=go.
#pragma once

#include <filesystem>

#include "absl/status/statusor.h"

namespace weft::elf {

// True when the ELF file has a .go.buildinfo section (every Go binary built
// since Go 1.13, stripped or not). An error when the file cannot be opened or
// is not ELF.
absl::StatusOr<bool> IsGoBinary(const std::filesystem::path& path);

}  // namespace weft::elf
