// traceparent propagation's kernel attachments (bpf/propagate.bpf.h), owned
// by one RAII object: the sk_msg program on weft's sockhash and the sockops
// program on the cgroup v2 root (a bpf_link, so a crashed weft leaves nothing
// attached). Nothing is pinned. Destroying it detaches both and takes every
// socket out of the sockhash, so traced sockets go back to plain TCP.
#pragma once

#include <cstdint>
#include <memory>
#include <string>

#include "absl/status/statusor.h"

struct capture_bpf;
struct bpf_link;

namespace weft {

// Kernel counters (summed over CPUs), see enum weft_propagate_stat.
struct PropagationStats {
  uint64_t sockets_added = 0;
  uint64_t sockhash_full = 0;
  uint64_t injected = 0;
  uint64_t continuation = 0;
  uint64_t has_traceparent = 0;
  uint64_t headers_incomplete = 0;
  uint64_t not_http1 = 0;
  uint64_t push_failed = 0;
  uint64_t untraced_sender = 0;
  uint64_t bytes_injected = 0;
};

// The mount point of the cgroup v2 hierarchy ("/sys/fs/cgroup" on a unified
// system, "/sys/fs/cgroup/unified" on a hybrid one), read from mountinfo text.
absl::StatusOr<std::string> FindCgroup2Mount(const std::string& mountinfo);

class PropagationAttachment {
 public:
  // The capture object must be loaded with weft_propagate_sockops and
  // weft_propagate_msg; it must outlive the attachment.
  static absl::StatusOr<std::unique_ptr<PropagationAttachment>> Attach(capture_bpf* skel);
  ~PropagationAttachment();
  PropagationAttachment(const PropagationAttachment&) = delete;
  PropagationAttachment& operator=(const PropagationAttachment&) = delete;

  PropagationStats Stats() const;
  // Sockets in the sockhash right now.
  uint64_t SocketsInMap() const;
  const std::string& cgroup_path() const { return cgroup_path_; }

 private:
  explicit PropagationAttachment(capture_bpf* skel) : skel_(skel) {}

  capture_bpf* skel_;
  std::string cgroup_path_;
  int cgroup_fd_ = -1;
  bpf_link* sockops_link_ = nullptr;
  bool msg_attached_ = false;
};

}  // namespace weft
