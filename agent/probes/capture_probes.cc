#include "agent/probes/capture_probes.h"

#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <vector>

#include "absl/strings/str_cat.h"
#include "agent/probes/kernel_features.h"
#include "agent/probes/traced_slots.h"
#include "bpf/capture.h"
#include "capture.skel.h"
#include "spdlog/spdlog.h"

namespace weft {

namespace {

int LogLibbpf(enum libbpf_print_level level, const char* format, va_list args) {
  // Verifier logs arrive as one large message: size the buffer to fit.
  va_list copy;
  va_copy(copy, args);
  int needed = vsnprintf(nullptr, 0, format, copy);
  va_end(copy);
  if (needed < 0) return 0;
  std::string buf(static_cast<size_t>(needed) + 1, '\0');
  vsnprintf(buf.data(), buf.size(), format, args);
  buf.resize(static_cast<size_t>(needed));
  std::string_view line(buf);
  while (!line.empty() && line.back() == '\n') line.remove_suffix(1);
  if (level == LIBBPF_WARN) {
    spdlog::warn("libbpf: {}", line);
  } else {
    spdlog::debug("libbpf: {}", line);
  }
  return 0;
}

uint32_t RoundUpPowerOfTwo(uint32_t v) {
  uint32_t p = 4096;
  while (p < v && p < (1u << 30)) p <<= 1;
  return p;
}

std::string ErrnoText(int err) { return std::strerror(err < 0 ? -err : err); }

}  // namespace

absl::StatusOr<std::unique_ptr<CaptureProbes>> CaptureProbes::Start(const CaptureOptions& options,
                                                                    Handler handler) {
  libbpf_set_print(LogLibbpf);
  auto backend = ChooseBackend(options.backend);
  if (!backend.ok()) return backend.status();
  if (options.capture_bytes > WEFT_MAX_CAPTURE) {
    return absl::InvalidArgumentError(absl::StrCat("capture size ", options.capture_bytes,
                                                   " is above the maximum ", WEFT_MAX_CAPTURE));
  }

  std::unique_ptr<CaptureProbes> probes(new CaptureProbes(std::move(handler)));
  probes->backend_ = *backend;
  capture_bpf* skel = capture_bpf__open();
  if (!skel) {
    return absl::InternalError(
        absl::StrCat("opening the capture BPF object failed: ", ErrnoText(errno)));
  }
  probes->skel_ = skel;
  if (skel->rodata->capture_floor_build != 0) {
    spdlog::warn(
        "this weft was built with -DWEFT_BPF_CAPTURE_FLOOR={} for bench/capture/capture_floor.py: "
        "its events carry no trace context and no connection state, so its spans are incomplete; "
        "rebuild with -DWEFT_BPF_CAPTURE_FLOOR=0 to trace",
        static_cast<int>(skel->rodata->capture_floor_build));
  }

  skel->rodata->capture_limit = options.capture_bytes;
  skel->rodata->agent_tgid = static_cast<uint32_t>(getpid());
  skel->rodata->trace_context_enabled = options.trace_context ? 1 : 0;
  skel->rodata->skip_bodies = options.skip_bodies ? 1 : 0;
  skel->rodata->wakeup_bytes = options.wakeup_bytes;
  bool socket_backend = *backend == CaptureBackend::kSocketTracepoints;
  skel->rodata->conn_id_from_addr = socket_backend ? 0 : 1;
  bpf_map__set_max_entries(skel->maps.events, RoundUpPowerOfTwo(options.ring_buffer_bytes));

  // Degrade by choice: load only what this backend and kernel use.
  bpf_program__set_autoload(skel->progs.weft_sock_send, socket_backend);
  bpf_program__set_autoload(skel->progs.weft_sock_recv, socket_backend);
  bpf_program__set_autoload(skel->progs.weft_sys_enter, !socket_backend);
  bpf_program__set_autoload(skel->progs.weft_sys_exit, !socket_backend);
  probes->sendmsg_hook_ = options.trace_context && KernelHasBtfTracepoint("tcp_sendmsg_locked");
  bpf_program__set_autoload(skel->progs.weft_tcp_sendmsg, probes->sendmsg_hook_);
  // The sk_msg program hands its decision to tcp_sendmsg_locked: without
  // that hook the header and the exported span could disagree.
  if (options.propagate_headers && !probes->sendmsg_hook_) {
    return absl::FailedPreconditionError(
        options.trace_context
            ? "--propagate=headers needs the tcp_sendmsg_locked BTF tracepoint, which this kernel "
              "lacks (run `weft check`)"
            : "--propagate=headers needs trace context (drop --no-trace-context)");
  }
  skel->rodata->propagate_headers = options.propagate_headers ? 1 : 0;
  if (!options.propagate_headers) {
    // The maps are in the object either way: keep them tiny when unused.
    bpf_map__set_max_entries(skel->maps.propagate_sockets, 1);
    bpf_map__set_max_entries(skel->maps.propagate_connects, 1);
    bpf_map__set_max_entries(skel->maps.propagate_sends, 1);
  }
  // Maps of a backend or feature this run does not use keep one entry: a
  // preallocated map costs its full size in locked kernel memory.
  if (socket_backend) bpf_map__set_max_entries(skel->maps.active_syscalls, 1);
  if (!options.go_runtime) {
    bpf_map__set_max_entries(skel->maps.go_processes, 1);
    bpf_map__set_max_entries(skel->maps.goroutine_contexts, 1);
    bpf_map__set_max_entries(skel->maps.go_request_contexts, 1);
    bpf_map__set_max_entries(skel->maps.goroutine_sends, 1);
    bpf_map__set_max_entries(skel->maps.goroutine_creations, 1);
  }
  if (!options.node_links) {
    bpf_map__set_max_entries(skel->maps.node_requests, 1);
    bpf_map__set_max_entries(skel->maps.node_sockets, 1);
  }
  // Tables keyed by thread or process fill with what is traced: where the
  // kernel allows it, their elements are allocated as they fill, not all at
  // load (about 32 MiB at full size).
  if (KernelAllowsGrowingHashMaps()) {
    for (bpf_map* map :
         {skel->maps.thread_states, skel->maps.ssl_calls, skel->maps.traced_pids,
          skel->maps.multiplexing_processes, skel->maps.event_loop_proxies, skel->maps.go_processes,
          skel->maps.goroutine_creations, skel->maps.py_processes, skel->maps.propagate_sends}) {
      bpf_map__set_map_flags(map, bpf_map__map_flags(map) | BPF_F_NO_PREALLOC);
    }
  }
  bpf_program__set_autoload(skel->progs.weft_propagate_sockops, options.propagate_headers);
  bpf_program__set_autoload(skel->progs.weft_propagate_msg, options.propagate_headers);

  if (int err = capture_bpf__load(skel); err != 0) {
    return absl::InternalError(absl::StrCat(
        "loading the capture BPF programs failed: ", ErrnoText(err),
        " (run `weft check` to see what this kernel allows; `--log-level debug` shows the "
        "verifier log)"));
  }
  if (int err = capture_bpf__attach(skel); err != 0) {
    return absl::InternalError(absl::StrCat(
        "attaching the capture programs failed: ", ErrnoText(err), " (run `weft check`)"));
  }
  if (options.propagate_headers) {
    auto attached = PropagationAttachment::Attach(skel);
    if (!attached.ok()) return attached.status();
    probes->propagation_ = *std::move(attached);
  }
  probes->ring_ = ring_buffer__new(bpf_map__fd(skel->maps.events), &CaptureProbes::OnRecord,
                                   probes.get(), nullptr);
  if (!probes->ring_) {
    return absl::InternalError(
        absl::StrCat("creating the ring buffer reader failed: ", ErrnoText(errno)));
  }
  return probes;
}

CaptureProbes::~CaptureProbes() {
  propagation_.reset();  // before the programs and maps it uses go away
  if (ring_) ring_buffer__free(ring_);
  if (skel_) capture_bpf__destroy(skel_);
}

int CaptureProbes::OnRecord(void* ctx, void* data, size_t size) {
  auto* self = static_cast<CaptureProbes*>(ctx);
  auto event = DecodeEvent(std::string_view(static_cast<const char*>(data), size));
  if (!event.ok()) {
    ++self->decode_errors_;
    spdlog::debug("dropping a ring buffer record: {}", std::string(event.status().message()));
    return 0;
  }
  self->handler_(*event);
  return 0;
}

absl::Status CaptureProbes::TraceProcess(uint32_t tgid) {
  weft_pid_state state{};
  state.added_ns = 0;
  if (bpf_map__update_elem(skel_->maps.traced_pids, &tgid, sizeof(tgid), &state, sizeof(state),
                           BPF_ANY) != 0) {
    return absl::ResourceExhaustedError(
        absl::StrCat("cannot trace process ", tgid, ": ", ErrnoText(errno),
                     " (the traced process table holds 16384 processes)"));
  }
  // The kernel's fast filter in front of the map (WEFT_TRACED_SLOTS): the
  // same compare-and-swap as its fork handler, on the mapped .bss.
  ClaimTracedSlot(TracedSlot(tgid), tgid);
  return absl::OkStatus();
}

uint64_t* CaptureProbes::TracedSlot(uint32_t tgid) const {
  return reinterpret_cast<uint64_t*>(&skel_->bss->traced_slots[tgid & (WEFT_TRACED_SLOTS - 1)]);
}

void CaptureProbes::MarkSlot(uint32_t tgid, uint64_t may) {
  MarkTracedSlot(TracedSlot(tgid), tgid, may);
}

std::vector<uint32_t> CaptureProbes::TracedProcesses() const {
  const int map_fd = bpf_map__fd(skel_->maps.traced_pids);
  std::vector<uint32_t> pids;
  uint32_t key = 0;
  uint32_t next = 0;
  const void* previous = nullptr;
  while (bpf_map_get_next_key(map_fd, previous, &next) == 0) {
    pids.push_back(next);
    key = next;
    previous = &key;
  }
  return pids;
}

absl::Status CaptureProbes::MarkMultiplexing(uint32_t tgid) {
  MarkSlot(tgid, WEFT_SLOT_MAY_MULTIPLEX);
  uint8_t yes = 1;
  if (bpf_map__update_elem(skel_->maps.multiplexing_processes, &tgid, sizeof(tgid), &yes,
                           sizeof(yes), BPF_ANY) != 0) {
    return absl::ResourceExhaustedError(
        absl::StrCat("cannot mark process ", tgid, " as multiplexing: ", ErrnoText(errno)));
  }
  return absl::OkStatus();
}

absl::Status CaptureProbes::MarkEventLoopProxy(uint32_t tgid) {
  MarkSlot(tgid, WEFT_SLOT_MAY_PROXY);
  uint8_t yes = 1;
  if (bpf_map__update_elem(skel_->maps.event_loop_proxies, &tgid, sizeof(tgid), &yes, sizeof(yes),
                           BPF_ANY) != 0) {
    return absl::ResourceExhaustedError(
        absl::StrCat("cannot mark process ", tgid, " as an event-loop proxy: ", ErrnoText(errno)));
  }
  return absl::OkStatus();
}

void CaptureProbes::UntraceProcess(uint32_t tgid) {
  ReleaseTracedSlot(TracedSlot(tgid), tgid);
  bpf_map__delete_elem(skel_->maps.traced_pids, &tgid, sizeof(tgid), 0);
  bpf_map__delete_elem(skel_->maps.multiplexing_processes, &tgid, sizeof(tgid), 0);
  bpf_map__delete_elem(skel_->maps.event_loop_proxies, &tgid, sizeof(tgid), 0);
  // Every per-process map behind a slot bit goes with the slot: traced
  // again, the process starts without bits, and the Go and CPython scans
  // add (and mark) it again as they would after an exec.
  bpf_map__delete_elem(skel_->maps.go_processes, &tgid, sizeof(tgid), 0);
  bpf_map__delete_elem(skel_->maps.py_processes, &tgid, sizeof(tgid), 0);
}

absl::StatusOr<int> CaptureProbes::Poll(int timeout_ms) {
  int n = ring_buffer__poll(ring_, timeout_ms);
  if (n < 0 && n != -EINTR) {
    return absl::InternalError(absl::StrCat("reading the ring buffer failed: ", ErrnoText(n)));
  }
  // Records written with BPF_RB_NO_WAKEUP do not wake the poll: collect them.
  int more = ring_buffer__consume(ring_);
  return (n > 0 ? n : 0) + (more > 0 ? more : 0);
}

CaptureStats CaptureProbes::Stats() const {
  CaptureStats out;
  int ncpus = libbpf_num_possible_cpus();
  if (ncpus <= 0) return out;
  std::vector<uint64_t> values(ncpus);
  auto sum = [&](uint32_t index) -> uint64_t {
    if (bpf_map__lookup_elem(skel_->maps.stats, &index, sizeof(index), values.data(),
                             values.size() * sizeof(uint64_t), 0) != 0) {
      return 0;
    }
    uint64_t total = 0;
    for (auto v : values) total += v;
    return total;
  };
  out.events = sum(WEFT_STAT_EVENTS);
  out.lost = sum(WEFT_STAT_LOST);
  out.bytes_captured = sum(WEFT_STAT_BYTES_CAPTURED);
  out.truncated = sum(WEFT_STAT_TRUNCATED);
  out.body_bytes_skipped = sum(WEFT_STAT_BODY_BYTES_SKIPPED);
  out.size_only = sum(WEFT_STAT_SIZE_ONLY);
  out.read_faults = sum(WEFT_STAT_READ_FAULTS);
  out.conn_table_full = sum(WEFT_STAT_CONN_TABLE_FULL);
  out.thread_table_full = sum(WEFT_STAT_THREAD_TABLE_FULL);
  out.tls_unattributed = sum(WEFT_STAT_TLS_UNATTRIBUTED);
  out.node_signals = sum(WEFT_STAT_NODE_SIGNALS);
  out.node_unmatched = sum(WEFT_STAT_NODE_UNMATCHED);
  out.decode_errors = decode_errors_;
  return out;
}

}  // namespace weft
