#include "agent/resources/process_resource.h"

#include <pwd.h>
#include <unistd.h>

#include <cstdlib>
#include <fstream>
#include <optional>

#include <fmt/format.h>
#include <fmt/ranges.h>

#include "agent/resources/program_identity.h"
#include "agent/resources/text.h"
#include "agent/resources/uuid5.h"

#ifndef WEFT_VERSION
#error "WEFT_VERSION must be defined by the build (project version)"
#endif

namespace weft::resources {
namespace {

constexpr std::string_view kServiceName = "service.name";
constexpr std::string_view kServiceInstanceId = "service.instance.id";
constexpr std::string_view kUnknownService = "unknown_service";

// Insertion-ordered attributes where setting a key replaces its value.
class AttributeBuilder {
 public:
  void Set(std::string_view key, AttributeValue value) {
    for (Attribute& attribute : attributes_) {
      if (attribute.key == key) {
        attribute.value = std::move(value);
        return;
      }
    }
    attributes_.push_back({std::string(key), std::move(value)});
  }
  bool Has(std::string_view key) const {
    for (const Attribute& attribute : attributes_) {
      if (attribute.key == key) return true;
    }
    return false;
  }
  // Explicit settings may add keys and replace derived ones, but not measured
  // facts about the process or about weft itself.
  void SetFromEnvironment(const KeyValues& pairs, bool allow_instance_id) {
    for (const auto& [key, value] : pairs) {
      const bool measured = key.starts_with("process.") || key.starts_with("telemetry.sdk.");
      if (measured && Has(key)) continue;
      if (key == kServiceInstanceId && !allow_instance_id) continue;
      if (key == kServiceName && value.empty()) continue;
      Set(key, value);
    }
  }
  Attributes Take() { return std::move(attributes_); }

 private:
  Attributes attributes_;
};

std::optional<std::string> OwnerName(uint32_t uid) {
  long size_hint = sysconf(_SC_GETPW_R_SIZE_MAX);
  std::string buffer(size_hint > 0 ? static_cast<size_t>(size_hint) : 4096, '\0');
  passwd entry{};
  passwd* found = nullptr;
  if (getpwuid_r(uid, &entry, buffer.data(), buffer.size(), &found) != 0 || found == nullptr) {
    return std::nullopt;
  }
  return std::string(found->pw_name);
}

void SetSdkAttributes(AttributeBuilder& builder) {
  builder.Set("telemetry.sdk.name", std::string("weft"));
  builder.Set("telemetry.sdk.version", std::string(WEFT_VERSION));
}

std::string ReadFirstLine(const std::filesystem::path& path) {
  std::ifstream file(path);
  std::string line;
  std::getline(file, line);
  return std::string(TrimWhitespace(line));
}

std::shared_ptr<const Resource> Finish(AttributeBuilder& builder) {
  auto resource = std::make_shared<Resource>();
  resource->attributes = builder.Take();
  for (const Attribute& attribute : resource->attributes) {
    if (attribute.key == kServiceName) {
      resource->service_name = std::get<std::string>(attribute.value);
    }
  }
  return resource;
}

}  // namespace

absl::StatusOr<AgentResourceConfig> AgentResourceConfig::FromEnvironment(
    const std::filesystem::path& proc_root) {
  AgentResourceConfig config;
  char host[256] = {};
  if (gethostname(host, sizeof(host) - 1) == 0) config.host_name = host;
  config.boot_id = ReadFirstLine(proc_root / "sys/kernel/random/boot_id");
  if (const char* attributes = std::getenv("OTEL_RESOURCE_ATTRIBUTES")) {
    absl::StatusOr<KeyValues> parsed = ParseOtelResourceAttributes(attributes);
    if (!parsed.ok()) {
      return absl::InvalidArgumentError(fmt::format(
          "OTEL_RESOURCE_ATTRIBUTES is malformed ({}): expected key1=value1,key2=value2 with "
          "values %-encoded",
          std::string(parsed.status().message())));
    }
    config.agent_attributes = std::move(*parsed);
  }
  return config;
}

std::string ServiceInstanceId(const AgentResourceConfig& config, int pid,
                              uint64_t start_time_ticks) {
  const std::string name =
      fmt::format("{}:{}:{}:{}", config.host_name, config.boot_id, pid, start_time_ticks);
  absl::StatusOr<Uuid> uuid = UuidV5(kServiceInstanceNamespace, name);
  return uuid.ok() ? FormatUuid(*uuid) : name;
}

std::shared_ptr<const Resource> BuildProcessResource(const proc::ProcessInfo& process,
                                                     const AgentResourceConfig& config,
                                                     std::vector<std::string>* warnings) {
  KeyValues process_attributes;
  if (process.otel_resource_attributes.has_value()) {
    absl::StatusOr<KeyValues> parsed =
        ParseOtelResourceAttributes(*process.otel_resource_attributes);
    if (parsed.ok()) {
      process_attributes = std::move(*parsed);
    } else if (warnings != nullptr) {
      warnings->push_back(
          fmt::format("process {}: OTEL_RESOURCE_ATTRIBUTES ignored, it is malformed: {}",
                      process.pid, std::string(parsed.status().message())));
    }
  }
  const ProgramIdentity identity = IdentifyProgram(process);

  AttributeBuilder builder;
  builder.Set(kServiceName,
              identity.service_name.empty() ? std::string(kUnknownService) : identity.service_name);
  builder.Set(kServiceInstanceId, ServiceInstanceId(config, process.pid, process.start_time_ticks));
  SetSdkAttributes(builder);
  if (identity.language.has_value()) builder.Set("telemetry.sdk.language", *identity.language);
  if (!config.host_name.empty()) builder.Set("host.name", config.host_name);
  builder.Set("process.pid", static_cast<int64_t>(process.pid));
  builder.Set("process.parent_pid", static_cast<int64_t>(process.parent_pid));
  if (!process.exe_path.empty()) {
    builder.Set("process.executable.name", BaseName(process.exe_path));
    builder.Set("process.executable.path", process.exe_path);
  } else if (!process.comm.empty()) {
    builder.Set("process.executable.name", process.comm);
  }
  if (!process.cmdline.empty()) {
    builder.Set("process.command", process.cmdline.front());
    builder.Set("process.command_line", fmt::format("{}", fmt::join(process.cmdline, " ")));
  }
  if (config.resolve_owner) {
    if (std::optional<std::string> owner = OwnerName(process.uid)) {
      builder.Set("process.owner", *owner);
    }
  }

  builder.SetFromEnvironment(config.agent_attributes, /*allow_instance_id=*/false);
  builder.SetFromEnvironment(process_attributes, /*allow_instance_id=*/true);
  if (process.otel_service_name.has_value()) {
    const std::string_view name = TrimWhitespace(*process.otel_service_name);
    if (!name.empty()) builder.Set(kServiceName, std::string(name));
  }
  return Finish(builder);
}

std::shared_ptr<const Resource> BuildFallbackResource(int pid, const AgentResourceConfig& config) {
  AttributeBuilder builder;
  builder.Set(kServiceName, std::string(kUnknownService));
  SetSdkAttributes(builder);
  if (!config.host_name.empty()) builder.Set("host.name", config.host_name);
  builder.Set("process.pid", static_cast<int64_t>(pid));
  return Finish(builder);
}

}  // namespace weft::resources
