// Names a process the way its owner would: the script an interpreter runs,
// the jar java runs, else the executable. Used when the process states no
// service.name of its own.
#pragma once

#include <optional>
#include <string>

#include "symbolizer/proc/process_info.h"

namespace weft::resources {

struct ProgramIdentity {
  // `python3 catalog.py` -> "catalog", `python3 -m http.server` ->
  // "http.server", `/usr/sbin/nginx` -> "nginx", `node server.js` -> "server",
  // `java -jar shop.jar` -> "shop", `bash deploy.sh` -> "deploy".
  std::string service_name;
  // A telemetry.sdk.language well-known value (python, nodejs, java, ruby,
  // php, go, dotnet, erlang), when the runtime is recognised.
  std::optional<std::string> language;
};

ProgramIdentity IdentifyProgram(const proc::ProcessInfo& process);

// Last path component of `path` (the whole string when it has no '/').
std::string BaseName(std::string_view path);

}  // namespace weft::resources
