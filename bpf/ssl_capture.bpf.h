/* SPDX-License-Identifier: Apache-2.0 */
/*
 * TLS plaintext from a shared OpenSSL (docs/tls.md). Included at the end of
 * capture.bpf.c: uses its conn_for / wakeup_flags.
 *
 * uprobes on SSL_read, SSL_read_ex, SSL_write, SSL_write_ex (or on the two
 * internal functions they wrap, agent/probes/tls_probe_points.h) save the
 * call (tls_state.bpf.h); one uretprobe, attached to every probe point,
 * reports the plaintext as a data event of the underlying connection, with
 * the same trace-context rules as plaintext HTTP on a socket. The agent
 * attaches them per traced process (pid-filtered: other processes never
 * trap) or, node-wide, per library file with pid -1; entries check the
 * traced tgid here either way.
 */
#ifndef WEFT_BPF_SSL_CAPTURE_BPF_H
#define WEFT_BPF_SSL_CAPTURE_BPF_H

#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_tracing.h>

#include "capture.h"
#include "capture_maps.bpf.h"
#include "tls_state.bpf.h"
#include "http_head.bpf.h"
#include "trace_context.bpf.h"

/* How long a failed SSL_write's context waits for its retry. */
#define WEFT_SSL_RETRY_NS (5ULL * 1000 * 1000 * 1000)

/* Context of a plaintext event: the rules of assign_context, with the TCP
 * sequence number of the call's first TLS byte standing in for the first
 * plaintext byte's when linking peers. */
static __always_inline void assign_tls_context(struct weft_data_event *ev, const __u8 *d,
                                               __u32 captured, __u32 tid,
                                               const struct ssl_call *call, struct conn_state *cs) {
  struct weft_trace_context *ctx = &ev->context;
  /* A read served from OpenSSL's buffer moved no TLS byte: without that
   * sequence number there is no peer-link key, and the request gets none. */
  if (ev->direction == WEFT_DIR_INGRESS) {
    if (is_http_request_start(d, captured)) {
      if (call->seq_known) {
        start_server_context(ctx, tid, ev->conn_id, d, captured, &ev->tuple, call->first_seq);
      } else {
        struct weft_tuple none = {};
        start_server_context(ctx, tid, ev->conn_id, d, captured, &none, 0);
      }
    }
  } else if (call->has_ctx) {
    *ctx = call->ctx;
    ctx->starts_span = 1;
    /* The write never reached the socket inside the call: publish late. */
    if (!call->published && call->seq_known)
      publish_client_context(ctx, &ev->tuple, call->first_seq);
  } else if (is_http_request_start(d, captured)) {
    decide_client_context(ctx, tid, ev->conn_id);
    if (call->seq_known) publish_client_context(ctx, &ev->tuple, call->first_seq);
  } else if (is_http_response_start(d, captured)) {
    struct thread_context *active = active_thread_context(tid);
    if (active && active->conn_id == ev->conn_id) {
      *ctx = active->ctx;
      ctx->starts_span = 0;
      end_thread_context(active);
    }
  }
  if (ctx->starts_span) {
    cs->ctx = *ctx;
    cs->ctx.starts_span = 0;
  } else if (ctx->span_id[0] == 0 && ctx->span_id[7] == 0) {
    *ctx = cs->ctx;
  }
}

/* Reports `len` plaintext bytes an SSL call moved. Global: verified once. */
__noinline int emit_ssl_data(struct ssl_call *call, __u64 pid_tgid, __u32 len) {
  if (!call) return 0;
  __u32 zero = 0;
  struct capture_scratch *s = bpf_map_lookup_elem(&scratch, &zero);
  if (!s) return 0;
  struct weft_data_event *ev = &s->ev;
  __u32 tgid = pid_tgid >> 32;
  __u32 tid = (__u32)pid_tgid;
  ev->async_context = 0; /* asyncio over TLS uses memory BIOs: not attributed */

  if (call->conn_id) {
    ev->conn_id = call->conn_id;
    ev->tuple = call->tuple;
  } else {
    __u64 ssl = call->ssl;
    struct ssl_conn *known = bpf_map_lookup_elem(&ssl_conns, &ssl);
    if (!known) {
      /* A memory BIO (asyncio) or a socket weft never saw. */
      stat_add(WEFT_STAT_TLS_UNATTRIBUTED, 1);
      return 0;
    }
    ev->conn_id = known->conn_id;
    ev->tuple = known->tuple;
  }
  struct conn_state *cs = conn_for(ev->conn_id, tgid);
  if (!cs) return 0;
  cs->tls = 1;
  if (cs->tuple.family == 0) cs->tuple = ev->tuple;

  __u8 dir = call->direction == WEFT_DIR_INGRESS ? WEFT_DIR_INGRESS : WEFT_DIR_EGRESS;
  ev->header.timestamp_ns = bpf_ktime_get_ns();
  ev->header.tgid = tgid;
  ev->header.tid = tid;
  ev->header.kind = WEFT_EVENT_DATA;
  ev->fd = -1;
  ev->seq = (__u32)cs->tls_offset[dir & 1];
  cs->tls_offset[dir & 1] += len;
  ev->total_len = len;
  ev->direction = dir;
  ev->role = cs->role;
  ev->source = dir == WEFT_DIR_INGRESS ? WEFT_SRC_SSL_READ : WEFT_SRC_SSL_WRITE;
  ev->flags = WEFT_DATA_TLS;
  __builtin_memset(&ev->context, 0, sizeof(ev->context));

  /* Only what parsing needs, as for plaintext (http_head.bpf.h): the head
   * of a message with a declared Content-Length, its body by size. */
  __u64 *body_left = skip_bodies ? &cs->body_left[dir & 1] : 0;
  int body_only = inside_declared_body(body_left, len);
  __u32 want = body_only ? 0 : len < capture_limit ? len : capture_limit;
  if (want > WEFT_MAX_CAPTURE) want = WEFT_MAX_CAPTURE;
  __u32 head = 0;
  /* The first bytes, then the rest only when the body cannot be skipped.
   * Masks the compiler cannot drop keep the sizes provably in the staging
   * area for the verifier. */
  __u32 first = want < WEFT_HEAD_PROBE ? want : WEFT_HEAD_PROBE;
  __u32 captured = 0;
  __u64 copy = first;
  asm volatile("%0 &= %1" : "+r"(copy) : "i"(2 * WEFT_HEAD_PROBE - 1));
  if (copy > 0 && bpf_probe_read_user(s->data, copy, (const void *)call->buf) == 0) {
    captured = first;
    head = head_to_keep(s->data, captured, len, body_left);
    if (head) {
      captured = head;
    } else if (want > first) {
      __u64 rest = want - first;
      asm volatile("%0 &= %1" : "+r"(rest) : "i"(WEFT_MAX_CAPTURE - 1));
      if (bpf_probe_read_user(s->data + WEFT_HEAD_PROBE, rest,
                              (const void *)(call->buf + WEFT_HEAD_PROBE)) == 0) {
        captured = want;
      } else {
        stat_add(WEFT_STAT_READ_FAULTS, 1);
      }
    }
  } else if (copy > 0) {
    stat_add(WEFT_STAT_READ_FAULTS, 1);
  }
  if (captured > WEFT_MAX_CAPTURE) captured = WEFT_MAX_CAPTURE;
  note_capture(ev, head, body_only, captured, len);
  ev->captured_len = captured;
  if (trace_context_enabled) assign_tls_context(ev, s->data, captured, tid, call, cs);

  output_staged_event(s, captured);
  return 0;
}

static __always_inline int ssl_enter(struct pt_regs *ctx, __u8 direction, int ex) {
  __u64 pid_tgid = bpf_get_current_pid_tgid();
  if (!is_traced(pid_tgid >> 32)) return 0;
  __u32 tid = (__u32)pid_tgid;
  /* Every call, not only a thread's first: the process may have been traced
   * again since (a new slot has no bits). Costs a load once set. */
  traced_slot_mark(pid_tgid >> 32, WEFT_SLOT_MAY_SSL);
  struct ssl_call *c = bpf_map_lookup_elem(&ssl_calls, &tid);
  if (!c) {
    /* The thread's first call: its entry stays for the next ones. */
    struct ssl_call fresh = {};
    bpf_map_update_elem(&ssl_calls, &tid, &fresh, BPF_NOEXIST);
    c = bpf_map_lookup_elem(&ssl_calls, &tid);
    if (!c) {
      stat_add(WEFT_STAT_THREAD_TABLE_FULL, 1);
      return 0;
    }
  }
  c->ssl = PT_REGS_PARM1(ctx);
  c->buf = PT_REGS_PARM2(ctx);
  c->len_ptr = ex ? PT_REGS_PARM4(ctx) : 0;
  c->direction = direction;
  c->conn_id = 0;
  c->first_seq = 0;
  c->seq_known = 0;
  c->has_ctx = 0;
  c->published = 0;
  c->retry_conn = 0;
  c->active = 1;
  if (direction != WEFT_DIR_EGRESS) return 0;
  __u64 ssl = c->ssl;
  struct ssl_write_retry *retry = bpf_map_lookup_elem(&ssl_write_retries, &ssl);
  if (retry) {
    /* Younger than a few seconds: the same SSL object is retrying, not a
     * new one allocated at the same address after an error. */
    if (bpf_ktime_get_ns() - retry->at_ns < WEFT_SSL_RETRY_NS) {
      c->ctx = retry->ctx;
      c->has_ctx = 1;
      c->published = 1;
      c->retry_conn = retry->conn_id;
    }
    bpf_map_delete_elem(&ssl_write_retries, &ssl);
  } else if (trace_context_enabled && PT_REGS_PARM3(ctx) >= 8) {
    /* Decide the CLIENT context now: the first socket write inside the call
     * publishes it under the first TLS byte, before the bytes leave. */
    __u8 head[8] = {};
    if (bpf_probe_read_user(head, sizeof(head), (const void *)c->buf) == 0 &&
        is_http_request_start(head, sizeof(head))) {
      decide_client_context(&c->ctx, tid, 0); /* connection not known yet */
      c->has_ctx = 1;
    }
  }
  return 0;
}

SEC("uprobe")
int BPF_KPROBE(weft_ssl_read_enter) { return ssl_enter(ctx, WEFT_DIR_INGRESS, 0); }

SEC("uprobe")
int BPF_KPROBE(weft_ssl_read_ex_enter) { return ssl_enter(ctx, WEFT_DIR_INGRESS, 1); }

SEC("uprobe")
int BPF_KPROBE(weft_ssl_write_enter) { return ssl_enter(ctx, WEFT_DIR_EGRESS, 0); }

SEC("uprobe")
int BPF_KPROBE(weft_ssl_write_ex_enter) { return ssl_enter(ctx, WEFT_DIR_EGRESS, 1); }

/* Return of any probe point: SSL_read/SSL_write return the byte count, the
 * _ex variants and OpenSSL's internal ssl_read_internal/ssl_write_internal
 * (probed instead when found, agent/probes/tls_probe_points.h) a positive
 * value and the count through their fourth argument. */
/* A write that did not go through keeps its published context for the
 * retry. Global, so its frame is not added to emit_ssl_data's in the
 * 512-byte stack budget of the call chain. */
__noinline int remember_write_retry(struct ssl_call *call) {
  if (!call || call->direction != WEFT_DIR_EGRESS || !call->has_ctx || !call->published ||
      !call->conn_id)
    return 0;
  struct ssl_write_retry retry = {};
  retry.ctx = call->ctx;
  retry.conn_id = call->conn_id;
  retry.at_ns = bpf_ktime_get_ns();
  __u64 ssl = call->ssl;
  bpf_map_update_elem(&ssl_write_retries, &ssl, &retry, BPF_ANY);
  return 0;
}

SEC("uretprobe")
int BPF_KRETPROBE(weft_ssl_return) {
  __u64 pid_tgid = bpf_get_current_pid_tgid();
  __u32 tid = (__u32)pid_tgid;
  struct ssl_call *call = bpf_map_lookup_elem(&ssl_calls, &tid);
  if (!call || !call->active) return 0;
  call->active = 0;
  /* > 0 is success in every convention probed: the byte count, 1 for the
   * _ex functions, and the internal functions' 1 (tls_probe_points.h). */
  int ret = (int)PT_REGS_RC(ctx);
  if (ret <= 0) {
    /* Most failures are a non-blocking read finding no record yet
     * (WANT_READ): nothing to report, nothing to keep. */
    remember_write_retry(call);
    return 0;
  }
  __u64 n = 0;
  if (call->len_ptr) {
    if (bpf_probe_read_user(&n, sizeof(n), (const void *)call->len_ptr)) return 0;
  } else {
    n = (__u64)ret;
  }
  if (n == 0 || n > 0x7fffffff) return 0;
  return emit_ssl_data(call, pid_tgid, (__u32)n);
}

#endif /* WEFT_BPF_SSL_CAPTURE_BPF_H */
