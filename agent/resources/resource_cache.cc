#include "agent/resources/resource_cache.h"

#include <spdlog/spdlog.h>

#include "symbolizer/proc/proc_reader.h"

namespace weft::resources {

ProcessSource ProcfsSource(const proc::ProcReader& reader) {
  return ProcessSource{
      // A process weft may trace but not fully inspect is still named from
      // its command line.
      .read_process =
          [&reader](int tgid) {
            return reader.ReadProcess(tgid, proc::ProcReader::PrivateFiles::kBestEffort);
          },
      .read_start_time = [&reader](int tgid) { return reader.ReadStartTime(tgid); },
  };
}

ResourceCache::ResourceCache(ProcessSource source, AgentResourceConfig config,
                             std::chrono::steady_clock::duration recheck_interval)
    : source_(std::move(source)), config_(std::move(config)), recheck_interval_(recheck_interval) {}

// A process that is gone and was forked by a traced parent ran the parent's
// program (unless it exec'd, which weft cannot tell any more): it takes the
// parent's resource with its own pid. Otherwise, the fallback resource.
std::shared_ptr<const Resource> ResourceCache::InheritedOrFallback(int tgid) {
  auto parent_tgid = parents_.find(tgid);
  if (parent_tgid == parents_.end()) return BuildFallbackResource(tgid, config_);
  auto parent = entries_.find(parent_tgid->second);
  if (parent == entries_.end() || parent->second.fallback) {
    return BuildFallbackResource(tgid, config_);
  }
  auto inherited = std::make_shared<Resource>(*parent->second.resource);
  for (Attribute& attribute : inherited->attributes) {
    if (attribute.key == "process.pid") attribute.value = int64_t{tgid};
    if (attribute.key == "process.parent_pid") attribute.value = int64_t{parent_tgid->second};
    if (attribute.key == "service.instance.id") {
      attribute.value = std::get<std::string>(attribute.value) + "/" + std::to_string(tgid);
    }
  }
  return inherited;
}

ResourceCache::Entry ResourceCache::Build(int tgid) {
  Entry entry;
  entry.checked_at = std::chrono::steady_clock::now();
  absl::StatusOr<proc::ProcessInfo> process = source_.read_process(tgid);
  // A zombie still has /proc/PID but no command line: it is gone as well.
  if (!process.ok() || process->cmdline.empty()) {
    spdlog::debug("resource for pid {}: {}", tgid,
                  process.ok() ? "no command line" : process.status().ToString());
    entry.resource = InheritedOrFallback(tgid);
    entry.fallback = true;
    return entry;
  }
  std::vector<std::string> warnings;
  entry.resource = BuildProcessResource(*process, config_, &warnings);
  for (const std::string& warning : warnings) spdlog::warn("{}", warning);
  entry.start_time_ticks = process->start_time_ticks;
  return entry;
}

std::shared_ptr<const Resource> ResourceCache::Get(int tgid) {
  // /proc is read under the lock: builds are rare (once per process), and a
  // second thread asking for the same tgid should wait for the first build.
  std::lock_guard lock(mutex_);
  auto found = entries_.find(tgid);
  if (found == entries_.end()) {
    return entries_.emplace(tgid, Build(tgid)).first->second.resource;
  }
  Entry& entry = found->second;
  const auto now = std::chrono::steady_clock::now();
  if (now - entry.checked_at < recheck_interval_) return entry.resource;

  if (entry.fallback) {
    Entry rebuilt = Build(tgid);
    if (!rebuilt.fallback) entry = std::move(rebuilt);
    entry.checked_at = now;
    return entry.resource;
  }
  absl::StatusOr<uint64_t> start_time = source_.read_start_time(tgid);
  // Gone: spans may still arrive for it, so keep the resource until Forget.
  if (start_time.ok() && *start_time != entry.start_time_ticks) {
    Entry rebuilt = Build(tgid);
    // A process that vanished during the rebuild must not be named after the
    // one it replaced: keep the fallback.
    entry = std::move(rebuilt);
  }
  entry.checked_at = now;
  return entry.resource;
}

void ResourceCache::Inherit(int child_tgid, int parent_tgid) {
  Get(parent_tgid);  // named while it is surely alive
  std::lock_guard lock(mutex_);
  parents_[child_tgid] = parent_tgid;
  // A child that is still alive is named at its first event, after any
  // exec; naming it now could catch it between fork and exec. One that is
  // already gone is named now, from its parent (see Build).
  if (!entries_.count(child_tgid) && !source_.read_start_time(child_tgid).ok()) {
    entries_.emplace(child_tgid, Build(child_tgid));
  }
}

void ResourceCache::Forget(int tgid) {
  std::lock_guard lock(mutex_);
  entries_.erase(tgid);
  parents_.erase(tgid);
}

size_t ResourceCache::size() const {
  std::lock_guard lock(mutex_);
  return entries_.size();
}

}  // namespace weft::resources
