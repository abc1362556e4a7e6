#include "exporters/batch_config.h"

#include <cstdlib>

#include "absl/status/status.h"
#include "absl/strings/ascii.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/strip.h"

namespace weft {

EnvLookup ProcessEnvironment() {
  return [](const std::string& name) -> std::optional<std::string> {
    const char* value = std::getenv(name.c_str());
    if (value == nullptr) return std::nullopt;
    return std::string(value);
  };
}

absl::StatusOr<std::optional<int64_t>> ParseNonNegativeIntEnv(const EnvLookup& env,
                                                              absl::string_view name,
                                                              absl::string_view unit_hint,
                                                              absl::string_view example) {
  std::optional<std::string> raw = env(std::string(name));
  if (!raw) return std::optional<int64_t>();
  absl::string_view text = absl::StripAsciiWhitespace(*raw);
  // The spec says an empty value means "unset".
  if (text.empty()) return std::optional<int64_t>();
  int64_t value = 0;
  if (!absl::SimpleAtoi(text, &value) || value < 0) {
    return absl::InvalidArgumentError(
        absl::StrCat(name, "='", *raw, "' is not a non-negative whole number of ", unit_hint,
                     "; unset it or set e.g. ", name, "=", example));
  }
  return std::optional<int64_t>(value);
}

absl::StatusOr<std::optional<bool>> ParseBoolEnv(const EnvLookup& env, absl::string_view name) {
  std::optional<std::string> raw = env(std::string(name));
  if (!raw) return std::optional<bool>();
  std::string text = absl::AsciiStrToLower(absl::StripAsciiWhitespace(*raw));
  if (text.empty()) return std::optional<bool>();
  if (text == "true") return std::optional<bool>(true);
  if (text == "false") return std::optional<bool>(false);
  return absl::InvalidArgumentError(
      absl::StrCat(name, "='", *raw, "' is not a boolean; set it to true or false"));
}

absl::StatusOr<BatchConfig> BatchConfig::FromEnvironment(const EnvLookup& env) {
  BatchConfig config;
  struct DurationVar {
    absl::string_view name;
    absl::Duration* field;
    absl::string_view example;
  };
  for (const DurationVar& var :
       {DurationVar{"OTEL_BSP_SCHEDULE_DELAY", &config.schedule_delay, "5000"},
        DurationVar{"OTEL_BSP_EXPORT_TIMEOUT", &config.export_timeout, "30000"}}) {
    absl::StatusOr<std::optional<int64_t>> ms =
        ParseNonNegativeIntEnv(env, var.name, "milliseconds", var.example);
    if (!ms.ok()) return ms.status();
    if (*ms) *var.field = absl::Milliseconds(**ms);
  }
  struct SizeVar {
    absl::string_view name;
    size_t* field;
    absl::string_view example;
  };
  for (const SizeVar& var :
       {SizeVar{"OTEL_BSP_MAX_QUEUE_SIZE", &config.max_queue_size, "65536"},
        SizeVar{"OTEL_BSP_MAX_EXPORT_BATCH_SIZE", &config.max_export_batch_size, "512"}}) {
    absl::StatusOr<std::optional<int64_t>> n =
        ParseNonNegativeIntEnv(env, var.name, "spans", var.example);
    if (!n.ok()) return n.status();
    if (*n) *var.field = static_cast<size_t>(**n);
  }
  if (absl::Status valid = config.Validate(); !valid.ok()) return valid;
  return config;
}

absl::Status BatchConfig::Validate() const {
  if (max_queue_size == 0) {
    return absl::InvalidArgumentError("OTEL_BSP_MAX_QUEUE_SIZE must be at least 1 (default 65536)");
  }
  if (max_export_batch_size == 0) {
    return absl::InvalidArgumentError(
        "OTEL_BSP_MAX_EXPORT_BATCH_SIZE must be at least 1 (default 512)");
  }
  if (max_export_batch_size > max_queue_size) {
    return absl::InvalidArgumentError(
        absl::StrCat("OTEL_BSP_MAX_EXPORT_BATCH_SIZE (", max_export_batch_size,
                     ") must not exceed OTEL_BSP_MAX_QUEUE_SIZE (", max_queue_size,
                     "); lower the batch size or raise the queue size"));
  }
  if (schedule_delay <= absl::ZeroDuration()) {
    return absl::InvalidArgumentError("OTEL_BSP_SCHEDULE_DELAY must be above 0 ms (default 5000)");
  }
  if (export_timeout <= absl::ZeroDuration()) {
    return absl::InvalidArgumentError("OTEL_BSP_EXPORT_TIMEOUT must be above 0 ms (default 30000)");
  }
  return absl::OkStatus();
}

}  // namespace weft
