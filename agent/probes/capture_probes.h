// The socket capture probes (bpf/capture.bpf.c), owned by one RAII object:
// open -> set tunables -> choose programs -> load -> attach -> ring buffer.
// Destroying it detaches and unloads everything; nothing is pinned.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "agent/events/event.h"
#include "agent/probes/kernel_features.h"
#include "agent/probes/propagation_attach.h"

struct capture_bpf;
struct ring_buffer;

namespace weft {

struct CaptureOptions {
  CaptureBackend backend = CaptureBackend::kAuto;
  uint32_t capture_bytes = 4096;                  // per data event, <= 8192
  uint32_t ring_buffer_bytes = 16 * 1024 * 1024;  // power of two
  bool trace_context = true;
  // Copy only the head of messages whose body length is declared.
  bool skip_bodies = true;
  // Ring-buffer bytes pending before the reader is woken; below that, the
  // reader collects records on its poll timeout. Waking per record costs an
  // interrupt per event (several microseconds in a VM); 0 wakes per record.
  uint32_t wakeup_bytes = 256 * 1024;
  // Insert a W3C traceparent into traced processes' outgoing HTTP/1.x
  // requests (sockops + sk_msg, docs/propagation.md). Needs trace_context.
  bool propagate_headers = false;
  // Features whose maps are sized for use only when on (they are in the BPF
  // object either way): Go runtime uprobes, and Node.js request links.
  bool go_runtime = true;
  bool node_links = false;
};

// Kernel-side counters (summed over CPUs).
struct CaptureStats {
  uint64_t events = 0;
  uint64_t lost = 0;
  uint64_t bytes_captured = 0;
  uint64_t truncated = 0;
  uint64_t body_bytes_skipped = 0;  // declared body bytes reported by size only
  uint64_t size_only = 0;
  uint64_t read_faults = 0;
  uint64_t conn_table_full = 0;
  uint64_t thread_table_full = 0;  // per-thread state not stored: no context, no TLS capture
  uint64_t tls_unattributed = 0;   // SSL plaintext whose socket was never seen
  // Messages from injected Node.js hooks (bpf/node_async.h), and those that
  // named an unknown socket or request (no link comes of them).
  uint64_t node_signals = 0;
  uint64_t node_unmatched = 0;
  // Userspace: records that failed to decode.
  uint64_t decode_errors = 0;
};

class CaptureProbes {
 public:
  // Receives every decoded record; the Event's bytes are valid during the call.
  using Handler = std::function<void(const Event&)>;

  static absl::StatusOr<std::unique_ptr<CaptureProbes>> Start(const CaptureOptions& options,
                                                              Handler handler);
  ~CaptureProbes();
  CaptureProbes(const CaptureProbes&) = delete;
  CaptureProbes& operator=(const CaptureProbes&) = delete;

  // Starts tracing a process (its children are followed by the kernel).
  absl::Status TraceProcess(uint32_t tgid);
  // Declares that the process's threads interleave requests (e.g. Go, whose
  // goroutines move between threads): its CLIENT spans get no thread parent.
  absl::Status MarkMultiplexing(uint32_t tgid);
  // The processes the kernel traces now (seeded pids and their descendants).
  std::vector<uint32_t> TracedProcesses() const;
  // Declares that the process is an event-loop proxy (nginx) whose workers
  // handle each request up to forwarding it before turning to another, so
  // its forwarded requests get `proxy-turn` parents (trace_context.bpf.h).
  // Children forked later inherit the mark in the kernel.
  absl::Status MarkEventLoopProxy(uint32_t tgid);
  // Stops tracing a process.
  void UntraceProcess(uint32_t tgid);
  // Says the traced process may now be in the per-process map behind a
  // WEFT_SLOT_MAY_* bit (capture.h); call before adding its entry there.
  void MarkSlot(uint32_t tgid, uint64_t may);
  // Waits up to timeout_ms for records and hands them to the handler.
  // Returns the number handled.
  absl::StatusOr<int> Poll(int timeout_ms);

  CaptureStats Stats() const;
  CaptureBackend backend() const { return backend_; }
  bool client_context_before_send() const { return sendmsg_hook_; }
  // For TlsProbes, which attaches the object's SSL uprobes per library file.
  capture_bpf* skeleton() const { return skel_; }
  // Null unless propagate_headers.
  const PropagationAttachment* propagation() const { return propagation_.get(); }

 private:
  uint64_t* TracedSlot(uint32_t tgid) const;
  CaptureProbes(Handler handler) : handler_(std::move(handler)) {}
  static int OnRecord(void* ctx, void* data, size_t size);

  Handler handler_;
  capture_bpf* skel_ = nullptr;
  ring_buffer* ring_ = nullptr;
  std::unique_ptr<PropagationAttachment> propagation_;
  CaptureBackend backend_ = CaptureBackend::kAuto;
  bool sendmsg_hook_ = false;
  uint64_t decode_errors_ = 0;
};

}  // namespace weft
