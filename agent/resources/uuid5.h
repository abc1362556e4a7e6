// Name-based UUIDs (RFC 9562 version 5, SHA-1): a stable opaque id from a
// stable name, as semantic conventions ask for service.instance.id.
#pragma once

#include <array>
#include <cstdint>
#include <string>
#include <string_view>

#include "absl/status/statusor.h"

namespace weft::resources {

using Uuid = std::array<uint8_t, 16>;

// The namespace the OpenTelemetry semantic conventions give for
// service.instance.id: 4d63009a-8d0f-11ee-aad7-4c796ed8e320.
inline constexpr Uuid kServiceInstanceNamespace = {0x4d, 0x63, 0x00, 0x9a, 0x8d, 0x0f, 0x11, 0xee,
                                                   0xaa, 0xd7, 0x4c, 0x79, 0x6e, 0xd8, 0xe3, 0x20};

absl::StatusOr<Uuid> UuidV5(const Uuid& name_space, std::string_view name);

// Canonical 8-4-4-4-12 lower-case form.
std::string FormatUuid(const Uuid& uuid);

}  // namespace weft::resources
