#include "agent/probes/tls_probes.h"

#include <bpf/bpf.h>

#include <cerrno>
#include <cstring>
#include <fstream>
#include <sstream>

#include "absl/strings/str_cat.h"
#include "capture.skel.h"
#include "spdlog/spdlog.h"
#include "symbolizer/elf/elf_symbols.h"

namespace weft {
namespace {

bpf_program* EntryProgram(capture_bpf* skel, const std::string& name) {
  if (name == "SSL_read") return skel->progs.weft_ssl_read_enter;
  if (name == "SSL_read_ex") return skel->progs.weft_ssl_read_ex_enter;
  if (name == "SSL_write") return skel->progs.weft_ssl_write_enter;
  if (name == "SSL_write_ex") return skel->progs.weft_ssl_write_ex_enter;
  return nullptr;
}

const std::vector<std::string>& SslFunctionNames() {
  static const std::vector<std::string> names = {"SSL_read", "SSL_read_ex", "SSL_write",
                                                 "SSL_write_ex"};
  return names;
}

std::string ReadFile(const std::string& path) {
  std::ifstream in(path);
  if (!in) return {};
  std::stringstream content;
  content << in.rdbuf();
  return content.str();
}

}  // namespace

TlsProbes::~TlsProbes() {
  if (!detacher_.joinable()) StartDetach();
  detacher_.join();
}

void TlsProbes::StartDetach() {
  if (detacher_.joinable()) return;
  detacher_ = std::thread([links = std::move(links_)]() mutable { links.clear(); });
  links_.clear();
}

absl::Status TlsProbes::AttachFile(const std::string& path) {
  auto offsets = elf::FunctionFileOffsets(path, SslFunctionNames());
  if (!offsets.ok()) return offsets.status();
  if (!offsets->count("SSL_read") && !offsets->count("SSL_read_ex")) {
    return absl::NotFoundError(absl::StrCat(path, " defines neither SSL_read nor SSL_read_ex"));
  }
  capture_bpf* skel = capture_.skeleton();
  std::vector<Link> made;
  // Return probes first: a call whose entry is seen must have its return
  // seen, or the thread's later socket I/O would count as inside the call.
  for (bool retprobe : {true, false}) {
    for (const auto& [name, offset] : *offsets) {
      LIBBPF_OPTS(bpf_uprobe_opts, opts, .retprobe = retprobe);
      bpf_program* program = retprobe ? skel->progs.weft_ssl_return : EntryProgram(skel, name);
      bpf_link* link = bpf_program__attach_uprobe_opts(program, -1, path.c_str(), offset, &opts);
      if (!link) {
        return absl::InternalError(absl::StrCat("attaching a ", retprobe ? "uretprobe" : "uprobe",
                                                " to ", name, " in ", path,
                                                " failed: ", std::strerror(errno)));
      }
      made.emplace_back(link);
    }
  }
  for (auto& link : made) links_.push_back(std::move(link));
  return absl::OkStatus();
}

void TlsProbes::ScanProcess(uint32_t pid) {
  ++stats_.processes_scanned;
  const std::string root = absl::StrCat("/proc/", pid, "/root");
  auto mappings = proc::ParseMaps(ReadFile(absl::StrCat("/proc/", pid, "/maps")));
  for (const proc::Mapping& lib : proc::FindLibssl(mappings)) {
    if (!seen_files_.insert(lib.file).second) continue;
    // Through the process's root, so a library inside a container's mount
    // namespace is the very file the process maps.
    std::string path = root + lib.path;
    if (auto st = AttachFile(path); !st.ok()) {
      ++stats_.files_failed;
      spdlog::warn("TLS: no plaintext capture for {} (process {}): {}", lib.path, pid,
                   std::string(st.message()));
      continue;
    }
    ++stats_.files_probed;
    spdlog::info("TLS: capturing plaintext of {} (first seen in process {})", lib.path, pid);
  }
}

void TlsProbes::Rescan() {
  int map_fd = bpf_map__fd(capture_.skeleton()->maps.traced_pids);
  uint32_t key = 0;
  uint32_t next = 0;
  std::vector<uint32_t> pids;
  const void* previous = nullptr;
  while (bpf_map_get_next_key(map_fd, previous, &next) == 0) {
    pids.push_back(next);
    key = next;
    previous = &key;
  }
  for (uint32_t pid : pids) ScanProcess(pid);
}

}  // namespace weft
