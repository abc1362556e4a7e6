#include "agent/probes/propagation_attach.h"

#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <fstream>
#include <sstream>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "bpf/propagate.h"
#include "capture.skel.h"

namespace weft {

namespace {

std::string ErrnoText(int err) { return std::strerror(err < 0 ? -err : err); }

}  // namespace

absl::StatusOr<std::string> FindCgroup2Mount(const std::string& mountinfo) {
  std::string fallback;
  for (absl::string_view line : absl::StrSplit(mountinfo, '\n')) {
    // "<id> <parent> <maj:min> <root> <mount point> <options> ... - <type> <source> ..."
    std::vector<absl::string_view> halves = absl::StrSplit(line, " - ");
    if (halves.size() < 2) continue;
    std::vector<absl::string_view> fs = absl::StrSplit(halves[1], ' ');
    if (fs.empty() || fs[0] != "cgroup2") continue;
    std::vector<absl::string_view> fields = absl::StrSplit(halves[0], ' ');
    if (fields.size() < 5 || fields[3] != "/") continue;  // a bind mount of a sub-cgroup
    std::string point(fields[4]);
    if (point == "/sys/fs/cgroup") return point;
    if (fallback.empty()) fallback = point;
  }
  if (fallback.empty()) {
    return absl::FailedPreconditionError(
        "traceparent propagation needs the cgroup v2 hierarchy mounted (none found in "
        "/proc/self/mountinfo; mount it with `mount -t cgroup2 none /sys/fs/cgroup/unified`)");
  }
  return fallback;
}

absl::StatusOr<std::unique_ptr<PropagationAttachment>> PropagationAttachment::Attach(
    capture_bpf* skel) {
  std::unique_ptr<PropagationAttachment> self(new PropagationAttachment(skel));
  std::ifstream in("/proc/self/mountinfo");
  std::stringstream text;
  text << in.rdbuf();
  auto mount = FindCgroup2Mount(text.str());
  if (!mount.ok()) return mount.status();
  self->cgroup_path_ = *mount;

  // sk_msg first: a socket entering the sockhash takes the map's programs
  // at that moment.
  int map_fd = bpf_map__fd(skel->maps.propagate_sockets);
  int msg_fd = bpf_program__fd(skel->progs.weft_propagate_msg);
  if (bpf_prog_attach(msg_fd, map_fd, BPF_SK_MSG_VERDICT, 0) != 0) {
    return absl::InternalError(
        absl::StrCat("attaching the sk_msg program to weft's sockhash failed: ", ErrnoText(errno)));
  }
  self->msg_attached_ = true;

  self->cgroup_fd_ = open(self->cgroup_path_.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (self->cgroup_fd_ < 0) {
    return absl::InternalError(absl::StrCat("opening the cgroup v2 root ", self->cgroup_path_,
                                            " failed: ", ErrnoText(errno)));
  }
  // A link attaches alongside other sockops programs (BPF_F_ALLOW_MULTI
  // semantics): Cilium's or a mesh's programs keep running.
  bpf_link* link = bpf_program__attach_cgroup(skel->progs.weft_propagate_sockops, self->cgroup_fd_);
  if (!link) {
    return absl::InternalError(absl::StrCat("attaching the sockops program to ", self->cgroup_path_,
                                            " failed: ", ErrnoText(errno)));
  }
  self->sockops_link_ = link;
  return self;
}

PropagationAttachment::~PropagationAttachment() {
  // No new sockets first, then take every socket out: the kernel restores
  // its plain TCP operations the moment it leaves the last sockhash.
  if (sockops_link_) bpf_link__destroy(sockops_link_);
  if (cgroup_fd_ >= 0) close(cgroup_fd_);
  int map_fd = bpf_map__fd(skel_->maps.propagate_sockets);
  uint64_t key = 0;
  while (bpf_map_get_next_key(map_fd, nullptr, &key) == 0) {
    if (bpf_map_delete_elem(map_fd, &key) != 0) break;
  }
  if (msg_attached_) {
    bpf_prog_detach2(bpf_program__fd(skel_->progs.weft_propagate_msg), map_fd, BPF_SK_MSG_VERDICT);
  }
}

uint64_t PropagationAttachment::SocketsInMap() const {
  int map_fd = bpf_map__fd(skel_->maps.propagate_sockets);
  uint64_t count = 0;
  uint64_t key = 0;
  uint64_t next = 0;
  const void* prev = nullptr;
  while (bpf_map_get_next_key(map_fd, prev, &next) == 0) {
    ++count;
    key = next;
    prev = &key;
    if (count > (1u << 20)) break;
  }
  return count;
}

PropagationStats PropagationAttachment::Stats() const {
  PropagationStats out;
  int ncpus = libbpf_num_possible_cpus();
  if (ncpus <= 0) return out;
  std::vector<uint64_t> values(ncpus);
  auto sum = [&](uint32_t index) -> uint64_t {
    if (bpf_map__lookup_elem(skel_->maps.propagate_stats, &index, sizeof(index), values.data(),
                             values.size() * sizeof(uint64_t), 0) != 0) {
      return 0;
    }
    uint64_t total = 0;
    for (auto v : values) total += v;
    return total;
  };
  out.sockets_added = sum(WEFT_PROP_SOCKETS_ADDED);
  out.sockhash_full = sum(WEFT_PROP_SOCKHASH_FULL);
  out.injected = sum(WEFT_PROP_INJECTED);
  out.continuation = sum(WEFT_PROP_CONTINUATION);
  out.has_traceparent = sum(WEFT_PROP_HAS_TRACEPARENT);
  out.headers_incomplete = sum(WEFT_PROP_HEADERS_INCOMPLETE);
  out.not_http1 = sum(WEFT_PROP_NOT_HTTP1);
  out.push_failed = sum(WEFT_PROP_PUSH_FAILED);
  out.untraced_sender = sum(WEFT_PROP_UNTRACED_SENDER);
  out.bytes_injected = sum(WEFT_PROP_BYTES_INJECTED);
  return out;
}

}  // namespace weft
