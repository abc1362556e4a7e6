#include "symbolizer/proc/proc_reader.h"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <deque>
#include <string>
#include <system_error>
#include <unordered_set>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "symbolizer/elf/go_binary.h"
#include "symbolizer/proc/proc_parse.h"

namespace weft::proc {
namespace {

constexpr std::string_view kDeletedSuffix = " (deleted)";

absl::Status NoSuchProcess(int pid) {
  return absl::NotFoundError(
      absl::StrCat("no such process ", pid, ": check the PID with `ps -p ", pid, "`"));
}

absl::Status ErrnoStatus(int pid, const std::filesystem::path& path, int err) {
  if (err == ENOENT || err == ESRCH) return NoSuchProcess(pid);
  if (err == EACCES || err == EPERM) {
    // Root can still be refused: the target may live in another user
    // namespace, or a container may have dropped CAP_SYS_PTRACE.
    const char* fix = ::geteuid() == 0
                          ? "weft needs CAP_SYS_PTRACE over it (a privileged container with "
                            "pid: host, in the target's user namespace)"
                          : "run weft as root (or with CAP_SYS_PTRACE)";
    return absl::PermissionDeniedError(absl::StrCat("cannot read ", path.string(), " of process ",
                                                    pid, ": permission denied; ", fix));
  }
  return absl::UnknownError(
      absl::StrCat("cannot read ", path.string(), " of process ", pid, ": ", std::strerror(err)));
}

// procfs files report size 0, so read until EOF rather than by stat size.
absl::StatusOr<std::string> ReadWholeFile(int pid, const std::filesystem::path& path) {
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return ErrnoStatus(pid, path, errno);
  std::string content;
  char buffer[4096];
  int read_errno = 0;
  for (;;) {
    const ssize_t n = ::read(fd, buffer, sizeof(buffer));
    if (n > 0) {
      content.append(buffer, static_cast<size_t>(n));
      continue;
    }
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) read_errno = errno;
    break;
  }
  ::close(fd);
  if (read_errno != 0) return ErrnoStatus(pid, path, read_errno);
  return content;
}

absl::StatusOr<std::string> ReadLink(int pid, const std::filesystem::path& path) {
  std::error_code error;
  std::filesystem::path target = std::filesystem::read_symlink(path, error);
  if (error) return ErrnoStatus(pid, path, error.value());
  std::string text = target.string();
  if (text.ends_with(kDeletedSuffix)) text.resize(text.size() - kDeletedSuffix.size());
  return text;
}

absl::StatusOr<StatFields> ReadStat(int pid, const std::filesystem::path& stat_path) {
  absl::StatusOr<std::string> stat = ReadWholeFile(pid, stat_path);
  if (!stat.ok()) return stat.status();
  absl::StatusOr<StatFields> fields = ParseStat(*stat);
  if (!fields.ok()) {
    return absl::DataLossError(absl::StrCat("process ", pid, ": ", fields.status().message()));
  }
  return fields;
}

}  // namespace

ProcReader::ProcReader(std::filesystem::path root) : root_(std::move(root)) {}

std::filesystem::path ProcReader::PidDir(int pid) const { return root_ / std::to_string(pid); }

bool ProcReader::ProcessExists(int pid) const {
  if (pid <= 0) return false;
  std::error_code error;
  return std::filesystem::is_directory(PidDir(pid), error);
}

absl::StatusOr<uint64_t> ProcReader::ReadStartTime(int pid) const {
  if (pid <= 0) return NoSuchProcess(pid);
  absl::StatusOr<StatFields> fields = ReadStat(pid, PidDir(pid) / "stat");
  if (!fields.ok()) return fields.status();
  return fields->start_time_ticks;
}

absl::StatusOr<ProcessInfo> ProcReader::ReadProcess(int pid, PrivateFiles private_files) const {
  const bool required = private_files == PrivateFiles::kRequired;
  if (pid <= 0) return NoSuchProcess(pid);
  const std::filesystem::path dir = PidDir(pid);
  ProcessInfo info;
  info.pid = pid;

  absl::StatusOr<StatFields> fields = ReadStat(pid, dir / "stat");
  if (!fields.ok()) return fields.status();
  info.comm = std::move(fields->comm);
  info.parent_pid = fields->parent_pid;
  info.start_time_ticks = fields->start_time_ticks;

  absl::StatusOr<std::string> status = ReadWholeFile(pid, dir / "status");
  if (!status.ok()) return status.status();
  absl::StatusOr<uint32_t> uid = ParseStatusUid(*status);
  if (!uid.ok()) {
    return absl::DataLossError(absl::StrCat("process ", pid, ": ", uid.status().message()));
  }
  info.uid = *uid;

  absl::StatusOr<std::string> cmdline = ReadWholeFile(pid, dir / "cmdline");
  if (!cmdline.ok()) return cmdline.status();
  info.cmdline = SplitNul(*cmdline);

  // Kernel threads have no exe (ENOENT while the pid dir exists): not an error.
  absl::StatusOr<std::string> exe = ReadLink(pid, dir / "exe");
  if (exe.ok()) {
    info.exe_path = std::move(*exe);
    // Open through procfs, not the link text: the text names a file in the
    // target's mount namespace, which a containerised agent cannot see.
    absl::StatusOr<bool> is_go = elf::IsGoBinary(dir / "exe");
    info.is_go_binary = is_go.ok() && *is_go;
  } else if (absl::IsPermissionDenied(exe.status())) {
    if (required) return exe.status();
  } else if (!ProcessExists(pid)) {
    return NoSuchProcess(pid);
  }

  absl::StatusOr<std::string> environ = ReadWholeFile(pid, dir / "environ");
  if (environ.ok()) {
    info.otel_service_name = FindEnvironValue(*environ, "OTEL_SERVICE_NAME");
    info.otel_resource_attributes = FindEnvironValue(*environ, "OTEL_RESOURCE_ATTRIBUTES");
  } else if (absl::IsPermissionDenied(environ.status()) && required) {
    return environ.status();
  }
  return info;
}

absl::StatusOr<std::vector<int>> ProcReader::ListChildren(int pid) const {
  if (!ProcessExists(pid)) return NoSuchProcess(pid);
  std::error_code error;
  std::filesystem::directory_iterator tasks(PidDir(pid) / "task", error);
  if (error) return ErrnoStatus(pid, PidDir(pid) / "task", error.value());

  std::vector<int> children;
  bool any_children_file = false;
  for (const auto& task : tasks) {
    absl::StatusOr<std::string> content = ReadWholeFile(pid, task.path() / "children");
    if (!content.ok()) continue;  // thread exited meanwhile, or no CONFIG_PROC_CHILDREN
    any_children_file = true;
    for (int child : ParsePidList(*content)) children.push_back(child);
  }
  if (!any_children_file) return ScanChildrenByParentPid(pid);
  return children;
}

absl::StatusOr<std::vector<int>> ProcReader::ScanChildrenByParentPid(int pid) const {
  std::error_code error;
  std::filesystem::directory_iterator entries(root_, error);
  if (error) return ErrnoStatus(pid, root_, error.value());
  std::vector<int> children;
  for (const auto& entry : entries) {
    int candidate = 0;
    if (!absl::SimpleAtoi(entry.path().filename().string(), &candidate)) continue;
    absl::StatusOr<std::string> stat = ReadWholeFile(candidate, entry.path() / "stat");
    if (!stat.ok()) continue;
    absl::StatusOr<StatFields> fields = ParseStat(*stat);
    if (fields.ok() && fields->parent_pid == pid) children.push_back(candidate);
  }
  return children;
}

absl::StatusOr<std::vector<int>> ProcReader::ListDescendants(int pid) const {
  absl::StatusOr<std::vector<int>> first = ListChildren(pid);
  if (!first.ok()) return first.status();
  std::vector<int> descendants;
  std::unordered_set<int> seen = {pid};
  std::deque<int> pending(first->begin(), first->end());
  while (!pending.empty()) {
    const int current = pending.front();
    pending.pop_front();
    if (!seen.insert(current).second) continue;
    descendants.push_back(current);
    // A child that exited between listing and now simply has no children.
    absl::StatusOr<std::vector<int>> next = ListChildren(current);
    if (next.ok()) pending.insert(pending.end(), next->begin(), next->end());
  }
  return descendants;
}

}  // namespace weft::proc
