// SPDX-License-Identifier: GPL-2.0
/*
 * Socket capture: the bytes traced processes move on TCP sockets, with the
 * trace context the kernel decides for HTTP/1.x messages.
 *
 * Two backends produce the same events; the loader enables one:
 * - socket tracepoints (sock_send_length / sock_recv_length, kernel >= 6.3):
 *   fire only on socket I/O; the syscall's buffers come from the task's saved
 *   syscall registers.
 * - syscall tracepoints (raw sys_enter / sys_exit): any kernel with BTF, but
 *   they put every syscall of every process on the slow path.
 * Common to both: connection roles and close from inet_sock_set_state,
 * process lifecycle from sched_process_fork / sched_process_exit, and (when
 * the kernel has it) tcp_sendmsg_locked to decide CLIENT contexts before the
 * request bytes leave.
 */
#include "vmlinux.h"
#include <bpf/bpf_core_read.h>
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_tracing.h>

#include "capture.h"
#include "capture_maps.bpf.h"
#include "core_fixes.bpf.h"
#include "go_runtime.bpf.h"
#include "http_head.bpf.h"
#include "sock_io.bpf.h"
#include "tls_state.bpf.h"
#include "trace_context.bpf.h"
#include "propagate.bpf.h"
#include "stage_profile.bpf.h"

char LICENSE[] SEC("license") = "GPL";

#define WEFT_TCP_ESTABLISHED 1
#define WEFT_TCP_SYN_SENT 2
#define WEFT_TCP_SYN_RECV 3
#define WEFT_TCP_CLOSE 7
#define WEFT_TCP_CLOSE_WAIT 8
#define WEFT_EINPROGRESS 115

static __always_inline __u64 wakeup_flags(void) {
  if (wakeup_bytes == 0) return 0;
  __u64 pending = bpf_ringbuf_query(&events, BPF_RB_AVAIL_DATA);
  return pending >= wakeup_bytes ? BPF_RB_FORCE_WAKEUP : BPF_RB_NO_WAKEUP;
}

#include "py_async.bpf.h"

/* Writes the staged data event and its `captured` bytes to the ring buffer,
 * counting it as written or lost. */
static __always_inline void output_staged_event(struct capture_scratch *s, __u32 captured) {
  /* An explicit mask the compiler cannot drop, so the verifier sees the
   * size bounded by the staging area (captured <= WEFT_MAX_CAPTURE already). */
  __u64 size = captured;
  asm volatile("%0 &= %1" : "+r"(size) : "i"(2 * WEFT_MAX_CAPTURE - 1));
  size += sizeof(s->ev);
  __u64 flags = wakeup_flags();
  WEFT_STAGE(WEFT_STAGE_WAKEUP);
  long failed = bpf_ringbuf_output(&events, s, size, flags);
  WEFT_STAGE(WEFT_STAGE_RING_OUTPUT);
  if (failed) {
    stat_add(WEFT_STAT_LOST, 1);
  } else {
    stat_add(WEFT_STAT_EVENTS, 1);
    stat_add(WEFT_STAT_BYTES_CAPTURED, captured);
  }
}

/* Per-CPU staging of a connection's first state: built on the stack it
 * would take about 170 of the 512 bytes the call chain may use. */
struct {
  __uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
  __uint(max_entries, 1);
  __type(key, __u32);
  __type(value, struct conn_state);
} new_conns SEC(".maps");

static __always_inline struct conn_state *conn_for(__u64 conn_id, __u32 tgid) {
  struct conn_state *cs = bpf_map_lookup_elem(&conns, &conn_id);
  if (cs) return cs;
  __u32 zero = 0;
  struct conn_state *init = bpf_map_lookup_elem(&new_conns, &zero);
  if (!init) return 0;
  __builtin_memset(init, 0, sizeof(*init));
  init->tgid = tgid;
  __u8 *role = bpf_map_lookup_elem(&conn_roles, &conn_id);
  init->role = role ? *role : WEFT_ROLE_UNKNOWN;
  init->event_loop_proxy = is_event_loop_proxy(tgid);
  bpf_map_update_elem(&conns, &conn_id, init, BPF_NOEXIST);
  cs = bpf_map_lookup_elem(&conns, &conn_id);
  if (!cs) stat_add(WEFT_STAT_CONN_TABLE_FULL, 1);
  return cs;
}

/* The event's context once decided: a message start becomes the
 * connection's, continuation bytes take the connection's. */
static __always_inline void finish_context(struct weft_trace_context *ctx, struct conn_state *cs) {
  if (!cs) return;
  if (ctx->starts_span) {
    cs->ctx = *ctx;
    cs->ctx.starts_span = 0;
  } else if (ctx->span_id[0] == 0 && ctx->span_id[7] == 0) {
    /* Continuation bytes belong to the message last started here. */
    *ctx = cs->ctx;
  }
}

/* Decides the context a data event carries (see trace_context.bpf.h). */
static __always_inline void assign_context(struct weft_data_event *ev, const __u8 *d,
                                           __u32 captured, __u32 tid, struct conn_state *cs,
                                           const struct pending_send *pending, int traceparent) {
  struct weft_trace_context *ctx = &ev->context;
  /* An event-loop proxy's I/O ends its turn unless it is on the request's
   * own connection (proxy_observe_io). The thread's entry is looked up once
   * per event, for that and for the decision. */
  int proxy = cs && cs->event_loop_proxy;
  if (ev->direction == WEFT_DIR_INGRESS) {
    if (is_http_request_start(d, captured)) {
      /* The thread's entry is rewritten whole: no turn to end first. */
      start_server_context_in(ctx, tid, ev->conn_id, d, captured, &ev->tuple, ev->seq,
                              thread_state_for(tid), traceparent);
    } else if (proxy) {
      proxy_observe_io(tid, ev->conn_id);
    }
    finish_context(ctx, cs);
    return;
  }
  int decided = 0;
  if (pending && pending->conn_id == ev->conn_id) {
    *ctx = pending->ctx; /* and the event is timed at the send's start (emit_data) */
    decided = 1;
  }
  if (!decided && is_http_request_start(d, captured)) {
    if (proxy) proxy_observe_io(tid, ev->conn_id);
    start_client_context(ctx, tid, ev->conn_id, &ev->tuple, ev->seq);
    finish_context(ctx, cs);
    return;
  }
  int response = is_http_response_start(d, captured);
  struct thread_context *active = proxy || response ? active_thread_context(tid) : 0;
  if (proxy && active && active->proxy_armed && active->conn_id != ev->conn_id)
    active->proxy_armed = 0;
  if (response) {
    /* The response ends the thread's (Go: the goroutine's) active SERVER context. */
    go_end_server_context(ev->header.tgid, ev->conn_id);
    if (active && active->conn_id == ev->conn_id) {
      *ctx = active->ctx;
      ctx->starts_span = 0;
      end_thread_context(active);
    }
  }
  finish_context(ctx, cs);
}


/* Copies the first `want` bytes of the call, from at most `segments`
 * buffers, into the staging area from byte `at` on; returns copy_call_bytes'
 * result. Global: verified once, however many times emit_data reads. */
__noinline int copy_to_scratch(struct io_call *call, __u32 want, __u32 at, __u32 segments) {
  if (!call) return 0;
  __u32 zero = 0;
  struct capture_scratch *s = bpf_map_lookup_elem(&scratch, &zero);
  if (!s) return 0;
  /* A global function's argument is unbounded: bound it explicitly. */
  __u64 bounded = want > WEFT_MAX_CAPTURE ? WEFT_MAX_CAPTURE : want;
  asm volatile("%0 &= %1" : "+r"(bounded) : "i"(2 * WEFT_MAX_CAPTURE - 1));
  /* at: 0, or 1 behind a held first byte (go_runtime.bpf.h). */
  return (int)copy_call_bytes(s->data + (at & 1), call, (__u32)bounded, segments);
}

/* Builds and writes one data event. Global (verified once, whatever calls
 * it); the caller has checked the process is traced and sk is TCP. */
__noinline int emit_data(struct io_call *call) {
  if (!call) return 0;
  __u32 zero = 0;
  struct capture_scratch *s = bpf_map_lookup_elem(&scratch, &zero);
  if (!s) return 0;
  struct weft_data_event *ev = &s->ev;
  const struct sock *sk = (const struct sock *)call->sk;
  __u32 tgid = call->pid_tgid >> 32;
  __u32 tid = (__u32)call->pid_tgid;

  ev->header.tgid = tgid;
  ev->header.tid = tid;
  ev->header.kind = WEFT_EVENT_DATA;
  ev->conn_id = call->conn_id;
  ev->fd = call->fd;
  ev->seq = call->seq;
  ev->total_len = call->len;
  ev->direction = call->direction;
  ev->source = call->source;
  ev->flags = 0;
  __builtin_memset(&ev->context, 0, sizeof(ev->context));
  s->scanned_head_end = -1;
  WEFT_STAGE(WEFT_STAGE_EVENT_HEAD);
#if WEFT_BPF_CAPTURE_FLOOR
  /* Measurement build (bench/capture/capture_floor.py): the least any
   * capture does per event, to tell this design's cost from the machine's.
   * It writes events without context or connection state; not for use. */
  ev->header.timestamp_ns = bpf_ktime_get_ns();
  ev->role = WEFT_ROLE_UNKNOWN;
  __builtin_memset(&ev->tuple, 0, sizeof(ev->tuple));
#if WEFT_BPF_CAPTURE_FLOOR == 1
  if (call->direction == WEFT_DIR_EGRESS) return 0;
#endif
  __u32 floor_captured = 0;
  if (call->kind != BUF_NONE) {
    __u32 floor_want = call->len < WEFT_HEAD_PROBE ? call->len : WEFT_HEAD_PROBE;
    floor_captured = (__u32)copy_to_scratch(call, floor_want, 0, 1) & ~WEFT_COPY_MORE;
  }
  if (floor_captured > WEFT_MAX_CAPTURE) floor_captured = WEFT_MAX_CAPTURE;
  ev->captured_len = floor_captured;
  output_staged_event(s, floor_captured);
  return 0;
#endif

  struct conn_state *cs = conn_for(call->conn_id, tgid);
  WEFT_STAGE(WEFT_STAGE_CONN_STATE);
  /* The send in flight on this thread, decided at tcp_sendmsg_locked; this
   * event ends it whatever happens below. */
  struct pending_send *pending = call->direction == WEFT_DIR_EGRESS ? active_pending_send(tid) : 0;
  if (pending) pending->active = 0;
  /* The send tracepoint fires after the bytes went out, possibly after a
   * peer on this node already read them: a send decided at
   * tcp_sendmsg_locked is timed at its start, so a callee's span never
   * starts before its caller's. */
  if (trace_context_enabled && pending && pending->conn_id == call->conn_id)
    ev->header.timestamp_ns = pending->start_ns;
  else
    ev->header.timestamp_ns = bpf_ktime_get_ns();
  WEFT_STAGE(WEFT_STAGE_PENDING);
  ev->role = cs ? cs->role : WEFT_ROLE_UNKNOWN;
  /* A connection's addresses do not change: read them from the socket once. */
  if (cs && cs->tuple.family != 0) {
    ev->tuple = cs->tuple;
  } else {
    read_tuple(sk, &ev->tuple);
    if (cs) cs->tuple = ev->tuple;
  }
  if (propagate_headers && call->direction == WEFT_DIR_EGRESS) {
    /* Report the stream as the process wrote it: without the header bytes
     * propagation inserted into this send and earlier ones. */
    __u32 pushed = pending && pending->conn_id == call->conn_id ? pending->pushed : 0;
    ev->seq = call->seq - pushed - (cs ? cs->bytes_pushed : 0);
    if (cs) cs->bytes_pushed += pushed;
  }
  WEFT_STAGE(WEFT_STAGE_TUPLE);
  /* TLS records are not reported: the SSL uretprobes report the plaintext
   * (ssl_capture.bpf.h). */
  int tls = tls_socket_io(call->pid_tgid, sk, call->conn_id, call->seq, call->direction);
  WEFT_STAGE(WEFT_STAGE_TLS_CHECK);
  if (tls && cs) cs->tls = 1;
  if (cs && cs->tls) tls = 1;

  __u32 captured = 0;
  if (tls) {
    /* nothing to copy */
  } else if (call->kind == BUF_NONE) {
    ev->flags |= WEFT_DATA_SIZE_ONLY;
    stat_add(WEFT_STAT_SIZE_ONLY, 1);
  } else {
    /* A request's first byte read alone just before goes in front
     * (go_runtime.bpf.h): the event then holds it and this read's bytes. */
    __u32 held = take_held_first_byte(cs, call, s->data);
    __u32 total = call->len + held;
    ev->seq -= held;
    ev->total_len = total;
    __u64 *body_left = cs && skip_bodies ? &cs->body_left[call->direction & 1] : 0;
    int body_only = inside_declared_body(body_left, total);
    __u32 want = body_only ? 0 : total < capture_limit ? total : capture_limit;
    /* Read the first bytes, look for a message head, and read the rest only
     * when the body cannot be skipped (http_head.bpf.h). */
    __u32 first = want > WEFT_HEAD_PROBE ? WEFT_HEAD_PROBE : want;
    /* The head is nearly always in the first buffer of a gathered write
     * (writev of head and body): look there first, then, if the head did not
     * end in it, in the first bytes of all buffers, as if read at once. */
    __u32 probed = first > held ? (__u32)copy_to_scratch(call, first - held, held, 1) : 0;
    captured = (probed & ~WEFT_COPY_MORE) + held;
    WEFT_STAGE(WEFT_STAGE_FIRST_COPY);
    __u32 head = head_to_keep(s->data, captured, total, body_left);
    WEFT_STAGE(WEFT_STAGE_HEAD_SCAN);
    if (!head && (probed & WEFT_COPY_MORE)) {
      captured = (__u32)copy_to_scratch(call, first - held, held, WEFT_MAX_IOV) + held;
      head = head_to_keep(s->data, captured, total, body_left);
    }
    if (head) {
      captured = head;
    } else if (want > first && captured == first) {
      captured = (__u32)copy_to_scratch(call, want - held, held, WEFT_MAX_IOV) + held;
    }
    WEFT_STAGE(WEFT_STAGE_REST_COPY);
    note_capture(ev, head, body_only, captured, total);
    if (captured > WEFT_MAX_CAPTURE) captured = WEFT_MAX_CAPTURE;
    /* A handshake record as a connection's first bytes, outside SSL_read /
     * SSL_write: a TLS connection. Only the first bytes: a plaintext body
     * may contain anything. */
    if (cs && cs->bytes_sent == 0 && cs->bytes_received == 0 &&
        is_tls_handshake_start(s->data, captured)) {
      tls = 1;
      cs->tls = 1;
    }
  }
  if (!tls && hold_first_byte(cs, call, s->data, captured)) return 0;
  if (tls) {
    if (cs && call->direction == WEFT_DIR_EGRESS) cs->bytes_sent += call->len;
    if (cs && call->direction == WEFT_DIR_INGRESS) cs->bytes_received += call->len;
    return 0;
  }
  if (captured > WEFT_MAX_CAPTURE) captured = WEFT_MAX_CAPTURE;
  ev->captured_len = captured;
  WEFT_STAGE(WEFT_STAGE_CAPTURE_END);

  if (trace_context_enabled)
    assign_context(ev, s->data, captured, tid, cs, pending,
                   traceparent_from_head_scan(s, captured));
  WEFT_STAGE(WEFT_STAGE_CONTEXT);
  /* Which asyncio task sent a request or an answer (py_async.bpf.h). */
  ev->async_context = call->direction == WEFT_DIR_EGRESS &&
                              (ev->context.starts_span || ev->role == WEFT_ROLE_SERVER)
                          ? py_current_context(tgid, tid)
                          : 0;
  if (cs) {
    if (call->direction == WEFT_DIR_EGRESS)
      cs->bytes_sent += call->len;
    else
      cs->bytes_received += call->len;
    cs->answered = call->direction == WEFT_DIR_EGRESS;
  }

  WEFT_STAGE(WEFT_STAGE_CONN_UPDATE);
  output_staged_event(s, captured);
  return 0;
}

static __always_inline __u64 conn_id_of(const struct sock *sk) {
  return conn_id_from_addr ? (__u64)sk : bpf_get_socket_cookie((void *)sk);
}

/* ---- socket tracepoint backend ------------------------------------------ */

static __always_inline int on_socket_io(struct sock *sk, int ret, int flags, __u8 direction) {
  /* Reads that return nothing (EAGAIN after an event loop drained the
   * socket: every other read of a keep-alive server) and peeks carry no
   * bytes: leave before any map lookup. */
  if (direction == WEFT_DIR_INGRESS && (ret <= 0 || (flags & WEFT_MSG_PEEK))) return 0;
  __u64 pid_tgid = bpf_get_current_pid_tgid();
  __u32 tgid = pid_tgid >> 32;
  if (!is_traced(tgid)) return 0;
  WEFT_STAGE_START(WEFT_STAGE_MARK_COST);
  if (ret <= 0) { /* a failed send: its decision is not the next one's */
    __u32 tid = (__u32)pid_tgid;
    end_pending_send(tid);
    if (propagate_headers) bpf_map_delete_elem(&propagate_sends, &tid);
    return 0;
  }
  if (!is_inet_tcp_btf(sk)) return 0;
  WEFT_STAGE(WEFT_STAGE_SOCKET_CHECK);

  struct task_struct *task = bpf_get_current_task_btf();
  struct pt_regs *regs = (struct pt_regs *)bpf_task_pt_regs(task);
  struct io_call *call = fresh_io_call();
  if (!call) return 0;
  classify_syscall(SYSCALL_NR_BTF(regs), SYSCALL_ARG0_BTF(regs), SYSCALL_ARG1_BTF(regs),
                   SYSCALL_ARG2_BTF(regs), call);
  /* The syscall must be the one moving these bytes on this socket; anything
   * else (kernel TLS, splice, io_uring, NFS...) is reported by size. */
  if (call->kind != BUF_NONE &&
      (call->direction != direction || !fd_holds_sock(task, call->fd, sk))) {
    call->kind = BUF_NONE;
    call->source = WEFT_SRC_UNKNOWN;
    call->fd = -1;
  }
  WEFT_STAGE(WEFT_STAGE_SYSCALL);
  call->sk = (__u64)sk;
  call->conn_id = bpf_get_socket_cookie(sk);
  call->pid_tgid = pid_tgid;
  call->len = ret;
  call->seq = stream_seq_after(sk, direction, ret);
  call->direction = direction;
  call->msg_index = -1;
  WEFT_STAGE(WEFT_STAGE_CALL);
  emit_data(call);
  WEFT_STAGE(WEFT_STAGE_EMIT_RETURN);
  return 0;
}

SEC("tp_btf/sock_send_length")
int BPF_PROG(weft_sock_send, struct sock *sk, int ret, int flags) {
  return on_socket_io(sk, ret, flags, WEFT_DIR_EGRESS);
}

SEC("tp_btf/sock_recv_length")
int BPF_PROG(weft_sock_recv, struct sock *sk, int ret, int flags) {
  return on_socket_io(sk, ret, flags, WEFT_DIR_INGRESS);
}

/* ---- CLIENT context before the bytes leave -------------------------------- */

/* Fires inside tcp_sendmsg_locked before each chunk is queued; the first
 * time per send the msghdr's iterator points at the start of the bytes and
 * write_seq at the sequence number of the first one. Deciding here, not after
 * the send, means a traced server on this node that reads the request finds
 * the CLIENT context already published. */
SEC("tp_btf/tcp_sendmsg_locked")
int BPF_PROG(weft_tcp_sendmsg, const struct sock *sk, const struct msghdr *msg) {
  if (!trace_context_enabled) return 0;
  __u64 pid_tgid = bpf_get_current_pid_tgid();
  if (!is_traced(pid_tgid >> 32)) return 0;
  WEFT_STAGE_START(WEFT_STAGE_SEND_START);
  __u32 tid = (__u32)pid_tgid;
  __u64 conn_id = conn_id_of(sk);
  /* On a socket in weft's sockhash the sk_msg program already decided (and
   * maybe wrote a traceparent); the bytes here are kernel pages. */
  struct propagate_send decision = {};
  int propagated = take_propagate_decision(tid, sk, &decision);
  WEFT_STAGE(WEFT_STAGE_SEND_PROPAGATE);
  __u32 write_seq = BPF_CORE_READ((const struct tcp_sock *)sk, write_seq);
  /* Inside SSL_write: publish the CLIENT context under the first TLS byte. */
  if (tls_socket_io(pid_tgid, sk, conn_id, write_seq, WEFT_DIR_EGRESS)) return 0;
  WEFT_STAGE(WEFT_STAGE_SEND_TLS);
  struct thread_state *thread = thread_state_for(tid);
  struct pending_send *pending = thread ? &thread->pending : 0;
  WEFT_STAGE(WEFT_STAGE_SEND_PENDING);
  if (pending && pending->active && pending->conn_id == conn_id) { /* a later chunk */
    if (propagated) pending->pushed += decision.pushed;
    return 0;
  }

  /* msg is a BTF pointer: plain loads (tcp_sendmsg_locked exists on >= 6.2,
   * after ITER_UBUF). */
  __u8 type = msg->msg_iter.iter_type;
  __u64 offset = msg->msg_iter.iov_offset;
  const __u8 *base = 0;
  if (type == weft_iter_ubuf()) {
    base = msg->msg_iter.ubuf;
  } else if (type == weft_iter_iovec()) {
    const struct iovec *iov = msg->msg_iter.__iov;
    if (iov) base = iov->iov_base;
  }
  __u8 head[8] = {};
  struct pending_send p = {};
  p.active = 1;
  p.conn_id = conn_id;
  p.seq = write_seq;
  p.start_ns = bpf_ktime_get_ns();
  if (propagated) {
    p.pushed = decision.pushed;
    if (decision.decided) {
      struct weft_tuple t = {};
      read_tuple(sk, &t);
      p.ctx = decision.ctx;
      publish_client_context(&p.ctx, &t, p.seq);
    }
  } else if (base && bpf_probe_read_user(head, sizeof(head), base + offset) == 0 &&
             is_http_request_start(head, sizeof(head))) {
    struct weft_tuple t = {};
    read_tuple(sk, &t);
    start_client_context(&p.ctx, tid, conn_id, &t, p.seq);
  }
  WEFT_STAGE(WEFT_STAGE_SEND_DECIDE);
  if (pending) *pending = p;
  WEFT_STAGE(WEFT_STAGE_SEND_STORE);
  return 0;
}

/* ---- syscall tracepoint backend ------------------------------------------ */

static __always_inline int is_captured_syscall(__s64 nr) {
  switch (nr) {
    case NR_read:
    case NR_write:
    case NR_readv:
    case NR_writev:
    case NR_recvfrom:
    case NR_sendto:
    case NR_recvmsg:
    case NR_sendmsg:
    case NR_recvmmsg:
    case NR_sendmmsg:
    case NR_sendfile:
    case NR_connect:
    case NR_accept:
    case NR_accept4:
      return 1;
    default:
      return 0;
  }
}

SEC("tp_btf/sys_enter")
int BPF_PROG(weft_sys_enter, struct pt_regs *regs, long id) {
  if (!is_captured_syscall(id)) return 0;
  __u64 pid_tgid = bpf_get_current_pid_tgid();
  if (!is_traced(pid_tgid >> 32)) return 0;
  __u32 tid = (__u32)pid_tgid;
  struct syscall_args args = {};
  args.nr = id;
  args.arg[0] = SYSCALL_ARG0(regs);
  args.arg[1] = SYSCALL_ARG1(regs);
  args.arg[2] = SYSCALL_ARG2(regs);
  args.arg[3] = SYSCALL_ARG3(regs);
  bpf_map_update_elem(&active_syscalls, &tid, &args, BPF_ANY);
  return 0;
}

static __always_inline void remember_role(struct sock *sk, __u8 role) {
  if (!sk || !is_inet_tcp(sk)) return;
  __u64 id = (__u64)sk;
  bpf_map_update_elem(&conn_roles, &id, &role, BPF_ANY);
}

SEC("tp_btf/sys_exit")
int BPF_PROG(weft_sys_exit, struct pt_regs *regs, long ret) {
  __u64 pid_tgid = bpf_get_current_pid_tgid();
  if (!is_traced(pid_tgid >> 32)) return 0;
  __u32 tid = (__u32)pid_tgid;
  struct syscall_args *args = bpf_map_lookup_elem(&active_syscalls, &tid);
  if (!args || args->nr < 0) return 0;
  /* Consumed, not deleted: the thread's entry is rewritten by its next
   * captured syscall (and deleted when the thread exits). Read through the
   * pointer: a copy would cost this frame 48 bytes of the call chain's 512. */
  __s64 nr = args->nr;
  args->nr = -1;

  struct task_struct *task = bpf_get_current_task_btf();
  if (nr == NR_connect) {
    if (ret == 0 || ret == -WEFT_EINPROGRESS)
      remember_role(sock_from_fd(task, (__s32)args->arg[0]), WEFT_ROLE_CLIENT);
    return 0;
  }
  if (nr == NR_accept || nr == NR_accept4) {
    if (ret >= 0) remember_role(sock_from_fd(task, (__s32)ret), WEFT_ROLE_SERVER);
    return 0;
  }
  if (ret <= 0) return 0;
  if (recv_flags(nr, args->arg) & WEFT_MSG_PEEK) return 0;

  struct io_call *call = fresh_io_call();
  if (!call) return 0;
  classify_syscall(nr, args->arg[0], args->arg[1], args->arg[2], call);
  struct sock *sk = sock_from_fd(task, call->fd);
  if (!sk || !is_inet_tcp(sk)) return 0;
  call->sk = (__u64)sk;
  call->conn_id = (__u64)sk;
  call->pid_tgid = pid_tgid;

  if (call->kind != BUF_MMSGHDR) {
    call->len = ret;
    call->seq = stream_seq_after(sk, call->direction, ret);
    call->msg_index = -1;
    return emit_data(call);
  }
  /* ret messages moved; each is its own event, in stream order. */
  const struct mmsghdr *msgs = (const struct mmsghdr *)call->buf;
  __u32 total = 0;
  int n = ret < WEFT_MAX_IOV ? ret : WEFT_MAX_IOV;
  for (int i = 0; i < WEFT_MAX_IOV; i++) {
    if (i >= n) break;
    unsigned int len = 0;
    bpf_probe_read_user(&len, sizeof(len), &msgs[i].msg_len);
    total += len;
  }
  /* The lengths are read again rather than kept: an array of them would
   * cost this frame 64 bytes of the call chain's 512. */
  __u32 seq = stream_seq_after(sk, call->direction, total);
  for (int i = 0; i < WEFT_MAX_IOV; i++) {
    if (i >= n) break;
    unsigned int len = 0;
    bpf_probe_read_user(&len, sizeof(len), &msgs[i].msg_len);
    call->msg_index = i;
    call->len = len;
    call->seq = seq;
    seq += len;
    if (call->len) emit_data(call);
  }
  return 0;
}

/* ---- connection roles and close ------------------------------------------ */

SEC("tp_btf/inet_sock_set_state")
int BPF_PROG(weft_inet_sock_set_state, const struct sock *sk, int oldstate, int newstate) {
  /* Three transitions matter; the others leave before touching the socket
   * (sk is a BTF pointer: plain loads; the bitfield read also covers
   * kernels before 5.6, where sk_protocol was a bitfield). */
  int accepted = oldstate == WEFT_TCP_SYN_RECV && newstate == WEFT_TCP_ESTABLISHED;
  if (newstate != WEFT_TCP_SYN_SENT && newstate != WEFT_TCP_CLOSE && !accepted) return 0;
  __u64 pid_tgid = 0;
  if (newstate == WEFT_TCP_SYN_SENT) {
    /* connect() runs in the caller's context: only traced callers matter. */
    pid_tgid = bpf_get_current_pid_tgid();
    if (!is_traced(pid_tgid >> 32)) return 0;
  }
  if (BPF_CORE_READ_BITFIELD(sk, sk_protocol) != WEFT_IPPROTO_TCP) return 0;
  __u64 conn_id = conn_id_of(sk);
  if (newstate == WEFT_TCP_SYN_SENT) {
    __u8 role = WEFT_ROLE_CLIENT;
    bpf_map_update_elem(&conn_roles, &conn_id, &role, BPF_ANY);
    if (trace_context_enabled && is_event_loop_proxy(pid_tgid >> 32))
      proxy_observe_connect((__u32)pid_tgid, conn_id);
    return 0;
  }
  if (accepted) {
    /* Runs in softirq: the accepting process is not known yet. */
    __u8 role = WEFT_ROLE_SERVER;
    bpf_map_update_elem(&conn_roles, &conn_id, &role, BPF_ANY);
    return 0;
  }
  if (newstate != WEFT_TCP_CLOSE) return 0;

  bpf_map_delete_elem(&conn_roles, &conn_id);
  bpf_map_delete_elem(&proxy_connections, &conn_id);
  if (node_processes_present) bpf_map_delete_elem(&node_sockets, &conn_id);
  struct conn_state *cs = bpf_map_lookup_elem(&conns, &conn_id);
  if (!cs) return 0;
  struct weft_close_event *ev = bpf_ringbuf_reserve(&events, sizeof(*ev), 0);
  if (ev) {
    __builtin_memset(ev, 0, sizeof(*ev));
    ev->header.timestamp_ns = bpf_ktime_get_ns();
    ev->header.tgid = cs->tgid;
    ev->header.tid = (__u32)bpf_get_current_pid_tgid();
    ev->header.kind = WEFT_EVENT_CLOSE;
    ev->conn_id = conn_id;
    ev->role = cs->role;
    ev->reset = oldstate == WEFT_TCP_ESTABLISHED || oldstate == WEFT_TCP_CLOSE_WAIT ||
                oldstate == WEFT_TCP_SYN_SENT || oldstate == WEFT_TCP_SYN_RECV;
    ev->tuple = cs->tuple;
    ev->bytes_sent = cs->bytes_sent;
    ev->bytes_received = cs->bytes_received;
    bpf_ringbuf_submit(ev, wakeup_flags());
    stat_add(WEFT_STAT_EVENTS, 1);
  } else {
    stat_add(WEFT_STAT_LOST, 1);
  }
  bpf_map_delete_elem(&conns, &conn_id);
  return 0;
}

/* ---- process lifecycle ------------------------------------------------- */

static __always_inline void emit_process_event(__u8 kind, __u32 tgid, __u32 tid, __u32 parent,
                                               __s32 exit_code) {
  struct weft_process_event *ev = bpf_ringbuf_reserve(&events, sizeof(*ev), 0);
  if (!ev) {
    stat_add(WEFT_STAT_LOST, 1);
    return;
  }
  __builtin_memset(ev, 0, sizeof(*ev));
  ev->header.timestamp_ns = bpf_ktime_get_ns();
  ev->header.tgid = tgid;
  ev->header.tid = tid;
  ev->header.kind = kind;
  ev->parent_tgid = parent;
  ev->exit_code = exit_code;
  /* Rare, and userspace acts on them (per-process TLS probes): no batching. */
  bpf_ringbuf_submit(ev, BPF_RB_FORCE_WAKEUP);
  stat_add(WEFT_STAT_EVENTS, 1);
}

SEC("tp_btf/sched_process_fork")
int BPF_PROG(weft_process_fork, struct task_struct *parent, struct task_struct *child) {
  __u32 child_tgid = BPF_CORE_READ(child, tgid);
  __u32 child_pid = BPF_CORE_READ(child, pid);
  if (child_pid != child_tgid) return 0; /* a new thread, not a process */
  __u32 parent_tgid = BPF_CORE_READ(parent, tgid);
  struct weft_pid_state *state = bpf_map_lookup_elem(&traced_pids, &parent_tgid);
  if (!state || child_tgid == agent_tgid) return 0;
  struct weft_pid_state inherited = *state;
  inherited.added_ns = bpf_ktime_get_ns();
  bpf_map_update_elem(&traced_pids, &child_tgid, &inherited, BPF_ANY);
  /* The child may be in whatever maps its parent may be in. */
  __u64 parent_slot = *traced_slot(parent_tgid);
  traced_slot_add(child_tgid, slot_held_by(parent_slot, parent_tgid)
                                  ? parent_slot & WEFT_SLOT_MAY_ALL
                                  : WEFT_SLOT_MAY_ALL);
  __u8 *proxy = bpf_map_lookup_elem(&event_loop_proxies, &parent_tgid);
  if (proxy) bpf_map_update_elem(&event_loop_proxies, &child_tgid, proxy, BPF_ANY);
  emit_process_event(WEFT_EVENT_PROCESS_FORK, child_tgid, child_pid, parent_tgid, 0);
  return 0;
}

SEC("tp_btf/sched_process_exit")
int BPF_PROG(weft_process_exit, struct task_struct *task) {
  __u32 tid = BPF_CORE_READ(task, pid);
  __u32 tgid = BPF_CORE_READ(task, tgid);
  if (!bpf_map_lookup_elem(&traced_pids, &tgid)) return 0;
  bpf_map_delete_elem(&thread_states, &tid);
  bpf_map_delete_elem(&active_syscalls, &tid);
  bpf_map_delete_elem(&ssl_calls, &tid);
  bpf_map_delete_elem(&goroutine_creations, &tid);
  /* signal->live reaches zero when the last thread of the group exits. */
  if (BPF_CORE_READ(task, signal, live.counter) != 0) return 0;
  traced_slot_remove(tgid);
  bpf_map_delete_elem(&traced_pids, &tgid);
  bpf_map_delete_elem(&multiplexing_processes, &tgid);
  bpf_map_delete_elem(&go_processes, &tgid);
  bpf_map_delete_elem(&py_processes, &tgid);
  bpf_map_delete_elem(&event_loop_proxies, &tgid);
  emit_process_event(WEFT_EVENT_PROCESS_EXIT, tgid, tid, 0, BPF_CORE_READ(task, exit_code) >> 8);
  return 0;
}

#include "ssl_capture.bpf.h"
