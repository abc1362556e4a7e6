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
    decide_client_context(ctx, tid);
    if (call->seq_known) publish_client_context(ctx, &ev->tuple, call->first_seq);
  } else if (is_http_response_start(d, captured)) {
    struct thread_context *active = bpf_map_lookup_elem(&thread_contexts, &tid);
    if (active && active->conn_id == ev->conn_id) {
      *ctx = active->ctx;
      ctx->starts_span = 0;
      bpf_map_delete_elem(&thread_contexts, &tid);
    }
  }
  if (ctx->starts_span) {
    cs->ctx = *ctx;
    cs->ctx.starts_span = 0;
  } else if (ctx->span_id[0] == 0 && ctx->span_id[7] == 0) {
    *ctx = cs->ctx;
  }
}

/* A response's body is not needed to parse it: the agent skips a body of
 * known length (Content-Length) by the event's total length. So of a
 * plaintext message that starts a response, only the head is captured when
 * it ends within the first WEFT_HEAD_WINDOW bytes and no Transfer-Encoding
 * header frames the body (chunk sizes are in the body: those are kept). */
#define WEFT_HEAD_WINDOW 512

/* Does the header line at h start with "transfer-encoding:" (any case)? */
static __always_inline int is_transfer_encoding_name(const __u8 *h) {
  __u64 a = load_u64(h) | 0x2020202020202020ULL;
  __u64 b = load_u64(h + 8) | 0x2020202020202020ULL;
  return a == WEFT_STR8('t', 'r', 'a', 'n', 's', 'f', 'e', 'r') &&
         b == WEFT_STR8('-', 'e', 'n', 'c', 'o', 'd', 'i', 'n') && (h[16] | 0x20) == 'g' &&
         h[17] == ':';
}

struct head_scan {
  __u32 len; /* valid bytes in the staging area */
  __s32 end; /* bytes up to and including the blank line, or -1 */
};

/* bpf_loop callback: looks at the 8 bytes of word `i` for the '\n' that
 * ends the head, or one that starts a Transfer-Encoding header (then the
 * whole message is kept: end stays -1). */
static int scan_head_word(__u32 i, void *arg) {
  struct head_scan *scan = arg;
  __u32 zero = 0;
  struct capture_scratch *s = bpf_map_lookup_elem(&scratch, &zero);
  if (!s) return 1;
  __u32 off = (i * 8) & (WEFT_MAX_CAPTURE - 1);
  if (off >= scan->len) return 1;
  const __u8 *d = s->data;
  __u64 x = load_u64(d + off) ^ 0x0a0a0a0a0a0a0a0aULL; /* '\n' bytes become 0 */
  if (!((x - WEFT_ONES) & ~x & WEFT_HIGHS)) return 0;
  for (int j = 0; j < 8; j++) {
    __u32 p = off + j;
    if (p + 2 >= scan->len) return 1;
    if (d[p] != '\n') continue;
    if (d[p + 1] == '\n') {
      scan->end = (__s32)(p + 2);
      return 1;
    }
    if (d[p + 1] == '\r' && d[p + 2] == '\n') {
      scan->end = (__s32)(p + 3);
      return 1;
    }
    if (is_transfer_encoding_name(d + p + 1)) return 1;
  }
  return 0;
}

/* Length of the response head at the start of the staging area (len valid
 * bytes) when the body may be left out, else -1. */
static __always_inline int response_head_length(__u32 len) {
  struct head_scan scan = {.len = len, .end = -1};
  bpf_loop((len + 7) / 8, scan_head_word, &scan, 0);
  return scan.end;
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

  __u32 want = len < capture_limit ? len : capture_limit;
  if (want > WEFT_MAX_CAPTURE) want = WEFT_MAX_CAPTURE;
  __u32 captured = 0;
  /* First the window that holds a typical response head; the rest only if
   * the message needs it. Masks the compiler cannot drop keep the sizes
   * provably in the staging area for the verifier. */
  __u32 first = want < WEFT_HEAD_WINDOW ? want : WEFT_HEAD_WINDOW;
  int head_only = 0;
  __u64 copy = first;
  asm volatile("%0 &= %1" : "+r"(copy) : "i"(2 * WEFT_HEAD_WINDOW - 1));
  if (copy > 0 && bpf_probe_read_user(s->data, copy, (const void *)call->buf) == 0) {
    captured = first;
    __u32 keep = want;
    if (is_http_response_start(s->data, first)) {
      int head = response_head_length(first);
      if (head > 0 && (__u32)head < keep) {
        keep = (__u32)head;
        head_only = 1;
      }
    }
    if (keep < first) {
      captured = keep;
    } else if (keep > first) {
      __u64 rest = keep - first;
      asm volatile("%0 &= %1" : "+r"(rest) : "i"(WEFT_MAX_CAPTURE - 1));
      if (bpf_probe_read_user(s->data + WEFT_HEAD_WINDOW, rest,
                              (const void *)(call->buf + WEFT_HEAD_WINDOW)) == 0) {
        captured = keep;
      } else {
        stat_add(WEFT_STAT_READ_FAULTS, 1);
      }
    }
  } else if (copy > 0) {
    stat_add(WEFT_STAT_READ_FAULTS, 1);
  }
  if (captured < len) {
    ev->flags |= WEFT_DATA_TRUNCATED;
    /* A body left out on purpose is not a capture cut short. */
    if (!head_only) stat_add(WEFT_STAT_TRUNCATED, 1);
  }
  ev->captured_len = captured;
  if (trace_context_enabled) assign_tls_context(ev, s->data, captured, tid, call, cs);

  output_staged_event(s, captured);
  return 0;
}

static __always_inline int ssl_enter(struct pt_regs *ctx, __u8 direction, int ex) {
  __u64 pid_tgid = bpf_get_current_pid_tgid();
  if (!is_traced(pid_tgid >> 32)) return 0;
  __u32 tid = (__u32)pid_tgid;
  struct ssl_call *c = bpf_map_lookup_elem(&ssl_calls, &tid);
  if (!c) {
    /* The thread's first call: its entry stays for the next ones. */
    struct ssl_call fresh = {};
    bpf_map_update_elem(&ssl_calls, &tid, &fresh, BPF_NOEXIST);
    c = bpf_map_lookup_elem(&ssl_calls, &tid);
    if (!c) return 0;
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
      decide_client_context(&c->ctx, tid);
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
    if (call->direction == WEFT_DIR_EGRESS && call->has_ctx && call->published &&
        call->conn_id) {
      struct ssl_write_retry retry = {};
      retry.ctx = call->ctx;
      retry.conn_id = call->conn_id;
      retry.at_ns = bpf_ktime_get_ns();
      __u64 ssl = call->ssl;
      bpf_map_update_elem(&ssl_write_retries, &ssl, &retry, BPF_ANY);
    }
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
