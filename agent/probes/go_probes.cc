#include "agent/probes/go_probes.h"

#include <bpf/bpf.h>

#include <cerrno>
#include <cstring>

#include "absl/strings/str_cat.h"
#include "bpf/capture.h"
#include "capture.skel.h"
#include "spdlog/spdlog.h"
#include "symbolizer/elf/go_binary.h"

namespace weft {

GoProbes::~GoProbes() {
  if (!detacher_.joinable()) StartDetach();
  detacher_.join();
}

void GoProbes::StartDetach() {
  if (detacher_.joinable()) return;
  detacher_ = std::thread([links = std::move(links_)]() mutable { links.clear(); });
  links_.clear();
}

absl::StatusOr<elf::GoProbeSites> GoProbes::AttachFile(const std::string& path) {
  auto sites = elf::FindGoProbeSites(path);
  if (!sites.ok()) return sites.status();
  capture_bpf* skel = capture_.skeleton();
  const std::pair<bpf_program*, std::optional<uint64_t>> wanted[] = {
      // Ancestry before the handoff: a request handed over by a goroutine
      // created meanwhile must find its inherited context.
      {skel->progs.weft_go_runqput_call, sites->runqput_call},
      {skel->progs.weft_go_newproc1_call, sites->newproc1_call},
      {skel->progs.weft_go_request_write, sites->request_write_call},
      {skel->progs.weft_go_round_trip, sites->round_trip_call},
  };
  std::vector<Link> made;
  for (const auto& [program, offset] : wanted) {
    if (!offset) continue;
    LIBBPF_OPTS(bpf_uprobe_opts, opts, .retprobe = false);
    bpf_link* link = bpf_program__attach_uprobe_opts(program, -1, path.c_str(), *offset, &opts);
    if (!link) {
      return absl::InternalError(absl::StrCat("attaching ", bpf_program__name(program), " to ",
                                              path, " at offset 0x", absl::Hex(*offset),
                                              " failed: ", std::strerror(errno)));
    }
    made.emplace_back(link);
  }
  for (auto& link : made) links_.push_back(std::move(link));
  return sites;
}

absl::Status GoProbes::EnableProcess(uint32_t pid, const elf::GoProbeSites& sites) {
  weft_go_process value{};
  value.g_tls_offset = sites.g_tls_offset;
  capture_.MarkSlot(pid, WEFT_SLOT_MAY_GO);
  if (bpf_map__update_elem(capture_.skeleton()->maps.go_processes, &pid, sizeof(pid), &value,
                           sizeof(value), BPF_ANY) != 0) {
    return absl::ResourceExhaustedError(
        absl::StrCat("goroutine contexts for process ", pid, ": ", std::strerror(errno)));
  }
  // Its threads interleave goroutines: never a thread link.
  return capture_.MarkMultiplexing(pid);
}

void GoProbes::ScanProcess(uint32_t pid) {
  const std::string exe = absl::StrCat("/proc/", pid, "/exe");
  auto id = proc::StatFileId(exe);
  if (!id) {
    spdlog::debug("Go: cannot stat {}: {}", exe, std::strerror(errno));
    return;  // gone, or a kernel thread
  }
  auto scanned = scanned_.find(pid);
  if (scanned != scanned_.end() && scanned->second == *id) {
    // Unchanged, unless it exec'd the same Go program again: the kernel
    // forgets a process's goroutine contexts at every exec.
    auto file = files_.find(*id);
    if (file == files_.end() || !file->second) return;
    weft_go_process value{};
    if (bpf_map__lookup_elem(capture_.skeleton()->maps.go_processes, &pid, sizeof(pid), &value,
                             sizeof(value), 0) == 0) {
      return;
    }
  }
  scanned_[pid] = *id;

  auto file = files_.find(*id);
  if (file == files_.end()) {
    auto is_go = elf::IsGoBinary(exe);
    if (!is_go.ok() || !*is_go) {
      spdlog::debug("Go: process {} does not run a Go program ({})", pid,
                    is_go.ok() ? "no .go.buildinfo" : std::string(is_go.status().message()));
      files_.emplace(*id, std::nullopt);
      return;
    }
    auto sites = AttachFile(exe);
    if (!sites.ok()) {
      ++stats_.files_failed;
      spdlog::warn("Go: no goroutine parent links for process {}: {}", pid,
                   std::string(sites.status().message()));
      file = files_.emplace(*id, std::nullopt).first;
    } else {
      ++stats_.files_probed;
      spdlog::info(
          "Go: goroutine contexts for {} (process {}; functions from {}; net/http client "
          "hand-over {}, goroutine ancestry {})",
          exe, pid, sites->symbols_from, sites->has_http_handoff() ? "yes" : "no",
          sites->has_goroutine_ancestry() ? "yes" : "no");
      file = files_.emplace(*id, *sites).first;
    }
  }
  if (!file->second) return;
  if (auto st = EnableProcess(pid, *file->second); !st.ok()) {
    spdlog::warn("Go: {}", std::string(st.message()));
    return;
  }
  ++stats_.processes_enabled;
}

void GoProbes::Rescan() {
  const std::vector<uint32_t> pids = capture_.TracedProcesses();
  // Forget processes that left the traced set (exited): a reused pid is new.
  for (auto it = scanned_.begin(); it != scanned_.end();) {
    it = std::find(pids.begin(), pids.end(), it->first) == pids.end() ? scanned_.erase(it)
                                                                      : std::next(it);
  }
  for (uint32_t pid : pids) ScanProcess(pid);
}

}  // namespace weft
