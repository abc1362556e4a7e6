/* SPDX-License-Identifier: Apache-2.0 */
/*
 * traceparent propagation for unmodified processes (docs/propagation.md).
 *
 * - sockops (attached to the cgroup v2 root): a TCP socket a traced process
 *   connects enters weft's own sockhash once established. Only client
 *   sockets of traced processes: servers, and every other process, keep the
 *   plain TCP code paths.
 * - sk_msg (attached to that sockhash): runs for each send on those sockets
 *   before tcp_sendmsg_locked, in the sender's context. For the start of an
 *   HTTP/1.x request it decides the CLIENT context (the same decision
 *   trace_context.bpf.h makes) and, when the whole header block is in this
 *   send, under the bound and without a traceparent, inserts one after the
 *   request line. The decision and the number of bytes added reach
 *   tcp_sendmsg_locked and the send's data event through `propagate_sends`
 *   (key: tid), so the exported span and the header agree.
 * Every case left alone is counted (enum weft_propagate_stat).
 */
#ifndef WEFT_BPF_PROPAGATE_BPF_H
#define WEFT_BPF_PROPAGATE_BPF_H

#include "vmlinux.h"
#include <bpf/bpf_core_read.h>
#include <bpf/bpf_helpers.h>

#include "capture.h"
#include "capture_maps.bpf.h"
#include "propagate.h"
#include "sock_io.bpf.h"
#include "trace_context.bpf.h"

#define WEFT_SK_PASS 1
#define WEFT_SOCK_OPS_TCP_CONNECT_CB 3
#define WEFT_SOCK_OPS_ACTIVE_ESTABLISHED_CB 4

/* 1: the sk_msg program may have decided a send's context (loader sets it
 * when propagation is on); spares every other send a map lookup. */
const volatile __u8 propagate_headers = 0;

/* Traced client sockets, by socket cookie. The kernel drops a socket from
 * every sockmap/sockhash when it closes; weft never deletes by hand. */
struct {
  __uint(type, BPF_MAP_TYPE_SOCKHASH);
  __uint(max_entries, 65536);
  __type(key, __u64);
  __type(value, __u64);
} propagate_sockets SEC(".maps");

/* Sockets a traced process is connecting (key: cookie). TCP_CONNECT_CB runs
 * in the caller's context; ACTIVE_ESTABLISHED_CB, where the socket may enter
 * the sockhash, usually runs in softirq where the caller is unknown. */
struct {
  __uint(type, BPF_MAP_TYPE_LRU_HASH);
  __uint(max_entries, 16384);
  __type(key, __u64);
  __type(value, __u8);
} propagate_connects SEC(".maps");

/* The conn_id (socket cookie, or the struct sock address on the syscall
 * backend) of each socket in the sockhash, set when it enters: the sk_msg
 * program can ask for neither, and the CLIENT decision of an event-loop
 * proxy depends on the connection. */
struct propagate_sock {
  __u64 conn_id;
};

struct {
  __uint(type, BPF_MAP_TYPE_SK_STORAGE);
  __uint(map_flags, BPF_F_NO_PREALLOC);
  __type(key, int);
  __type(value, struct propagate_sock);
} propagate_sock_ids SEC(".maps");

/* What the sk_msg program decided for the send in progress (key: tid).
 * Consumed by tcp_sendmsg_locked, which runs next in the same thread. */
struct propagate_send {
  struct weft_trace_context ctx;
  __u32 pushed;     /* bytes inserted into this send */
  __u32 local_port; /* the sending socket's, to match tcp_sendmsg_locked's */
  __u8 decided;     /* 1: ctx holds the CLIENT context of the request */
  __u8 _pad[7];
};

struct {
  __uint(type, BPF_MAP_TYPE_HASH);
  __uint(max_entries, 16384); /* sends in flight, one per sending thread */
  __type(key, __u32);
  __type(value, struct propagate_send);
} propagate_sends SEC(".maps");

struct {
  __uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
  __uint(max_entries, WEFT_PROP_STAT_MAX);
  __type(key, __u32);
  __type(value, __u64);
} propagate_stats SEC(".maps");

/* Per-CPU copy of a request's first bytes (twice the bound, so every read
 * the scan makes near the end stays inside) and the header line. */
struct propagate_scratch {
  __u8 data[2 * WEFT_PROPAGATE_HEADER_BOUND];
  __u8 line[WEFT_TRACEPARENT_LINE_LEN + 2];
};

struct {
  __uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
  __uint(max_entries, 1);
  __type(key, __u32);
  __type(value, struct propagate_scratch);
} propagate_scratch_area SEC(".maps");

static __always_inline void propagate_stat_add(__u32 index, __u64 n) {
  __u64 *v = bpf_map_lookup_elem(&propagate_stats, &index);
  if (v) *v += n;
}

/* ---- sockops: traced client sockets enter the sockhash -------------------- */

SEC("sockops")
int weft_propagate_sockops(struct bpf_sock_ops *skops) {
  if (skops->family != WEFT_AF_INET && skops->family != WEFT_AF_INET6) return 1;
  __u64 cookie = bpf_get_socket_cookie(skops);
  if (skops->op == WEFT_SOCK_OPS_TCP_CONNECT_CB) {
    if (!is_traced(bpf_get_current_pid_tgid() >> 32)) return 1;
    __u8 yes = 1;
    bpf_map_update_elem(&propagate_connects, &cookie, &yes, BPF_ANY);
  } else if (skops->op == WEFT_SOCK_OPS_ACTIVE_ESTABLISHED_CB) {
    if (!bpf_map_lookup_elem(&propagate_connects, &cookie)) return 1;
    bpf_map_delete_elem(&propagate_connects, &cookie);
    struct bpf_sock *sk = skops->sk;
    if (!sk) return 1;
    struct propagate_sock *ids =
        bpf_sk_storage_get(&propagate_sock_ids, sk, 0, BPF_SK_STORAGE_GET_F_CREATE);
    if (ids) ids->conn_id = conn_id_from_addr ? (__u64)bpf_skc_to_tcp_sock(sk) : cookie;
    if (bpf_sock_hash_update(skops, &propagate_sockets, &cookie, BPF_NOEXIST))
      propagate_stat_add(WEFT_PROP_SOCKHASH_FULL, 1);
    else
      propagate_stat_add(WEFT_PROP_SOCKETS_ADDED, 1);
  }
  return 1;
}

/* ---- sk_msg: the header block and where the line goes --------------------- */

struct header_scan {
  __u32 len;        /* valid bytes in the scratch copy */
  __s32 line_end;   /* offset just past the request line, or -1 */
  __s32 block_end;  /* offset just past the blank line ending the headers, or -1 */
  __u8 has_traceparent;
  __u8 not_http1;
};

/* " HTTP/1.x\r" ending at q[9] (q points at the space). */
static __always_inline int ends_with_http1(const __u8 *q) {
  return load_u64(q) == WEFT_STR8(' ', 'H', 'T', 'T', 'P', '/', '1', '.') && q[8] >= '0' && q[8] <= '9' &&
         q[9] == '\r';
}

/* bpf_loop callback over the 8-byte words of the copy: finds the end of the
 * request line, a traceparent header and the blank line, whichever decide. */
static int scan_header_word(__u32 i, void *arg) {
  struct header_scan *scan = arg;
  __u32 zero = 0;
  struct propagate_scratch *s = bpf_map_lookup_elem(&propagate_scratch_area, &zero);
  if (!s) return 1;
  __u32 off = (i * 8) & (WEFT_PROPAGATE_HEADER_BOUND - 1);
  __u32 len = scan->len;
  if (off >= len) return 1;
  const __u8 *d = s->data;
  __u64 x = load_u64(d + off) ^ 0x0a0a0a0a0a0a0a0aULL; /* '\n' bytes become 0 */
  if (!((x - WEFT_ONES) & ~x & WEFT_HIGHS)) return 0;
  for (int j = 0; j < 8; j++) {
    __u32 p = off + j;
    if (p >= len) return 1;
    if (d[p] != '\n') continue;
    if (scan->line_end < 0) {
      /* Masked so the verifier sees the index bounded below too. */
      if (p < 10 || !ends_with_http1(d + ((p - 10) & (WEFT_PROPAGATE_HEADER_BOUND - 1)))) {
        scan->not_http1 = 1;
        return 1;
      }
      scan->line_end = (__s32)(p + 1);
      continue;
    }
    if (p + 1 < len && d[p + 1] == '\n') {
      scan->block_end = (__s32)(p + 2);
      return 1;
    }
    if (p + 2 < len && d[p + 1] == '\r' && d[p + 2] == '\n') {
      scan->block_end = (__s32)(p + 3);
      return 1;
    }
    if (p + 13 <= len && is_traceparent_name(d + p + 1)) {
      scan->has_traceparent = 1;
      return 1;
    }
  }
  return 0;
}

static __always_inline __u8 hex_digit(__u8 v) { return v < 10 ? '0' + v : 'a' + v - 10; }

static __always_inline void put_hex(__u8 *out, const __u8 *in, int n) {
  for (int i = 0; i < n; i++) {
    out[2 * i] = hex_digit(in[i] >> 4);
    out[2 * i + 1] = hex_digit(in[i] & 0xf);
  }
}

/* "traceparent: 00-<trace>-<span>-<flags>\r\n" */
static __always_inline void format_traceparent_line(__u8 *line,
                                                    const struct weft_trace_context *ctx) {
  __builtin_memcpy(line, "traceparent: 00-", 16);
  put_hex(line + 16, ctx->trace_id, 16);
  line[48] = '-';
  put_hex(line + 49, ctx->span_id, 8);
  line[65] = '-';
  put_hex(line + 66, &ctx->trace_flags, 1);
  line[68] = '\r';
  line[69] = '\n';
}

/* Inserts the line at `at` (inside the first scatterlist element); 0 on
 * success. On failure the message is as the sender wrote it. */
static __always_inline int insert_traceparent(struct sk_msg_md *msg, __u32 at, const __u8 *line) {
  if (bpf_msg_push_data(msg, at, WEFT_TRACEPARENT_LINE_LEN, 0)) return -1;
  /* The pushed bytes are a scatterlist element of their own, and TCP sends
   * each element with its own tcp_sendmsg_locked call without MSG_MORE: the
   * request line would leave alone and, under Nagle, the rest would wait for
   * the peer's (delayed) ACK. Pulling the request line, the line and the
   * byte after it merges the three elements into one. */
  __u32 merged_end = at + WEFT_TRACEPARENT_LINE_LEN + 1;
  if (bpf_msg_pull_data(msg, 0, merged_end, 0)) goto undo;
  __u8 *data = msg->data;
  __u8 *end = msg->data_end;
  __u8 *dst = data + (at & (WEFT_PROPAGATE_HEADER_BOUND - 1));
  if (dst + WEFT_TRACEPARENT_LINE_LEN > end) goto undo;
  __builtin_memcpy(dst, line, WEFT_TRACEPARENT_LINE_LEN);
  return 0;
undo:
  bpf_msg_pop_data(msg, at, WEFT_TRACEPARENT_LINE_LEN, 0);
  return -1;
}

/* The CLIENT context decision as its own global function: verified once,
 * not once per path through the sk_msg program. */
__noinline int propagate_decide(struct propagate_send *decision, __u32 tid, __u64 conn_id) {
  if (!decision) return 0;
  decide_client_context(&decision->ctx, tid, conn_id);
  decision->decided = 1;
  return 0;
}

SEC("sk_msg")
int weft_propagate_msg(struct sk_msg_md *msg) {
  __u64 pid_tgid = bpf_get_current_pid_tgid();
  __u32 tid = (__u32)pid_tgid;
  if (!is_traced(pid_tgid >> 32)) {
    propagate_stat_add(WEFT_PROP_UNTRACED_SENDER, 1);
    return WEFT_SK_PASS;
  }
  __u32 size = msg->size;
  __u8 *data = msg->data;
  __u8 *end = msg->data_end;
  if (size >= 8 && data + 8 > end) {
    if (bpf_msg_pull_data(msg, 0, 8, 0)) {
      propagate_stat_add(WEFT_PROP_PUSH_FAILED, 1);
      return WEFT_SK_PASS;
    }
    data = msg->data;
    end = msg->data_end;
  }
  __u8 head[8];
  if (data + 8 > end) {
    propagate_stat_add(WEFT_PROP_CONTINUATION, 1);
    return WEFT_SK_PASS;
  }
  __builtin_memcpy(head, data, 8);
  if (!is_http_request_start(head, 8)) {
    propagate_stat_add(WEFT_PROP_CONTINUATION, 1);
    return WEFT_SK_PASS;
  }

  /* The start of a request: its CLIENT context is decided here, whatever
   * happens to the bytes (tcp_sendmsg_locked sees kernel pages, not the
   * sender's buffer, on a socket in a sockhash). */
  struct propagate_send decision = {};
  __u64 conn_id = 0;
  struct bpf_sock *sk = msg->sk;
  if (sk) {
    struct propagate_sock *ids = bpf_sk_storage_get(&propagate_sock_ids, sk, 0, 0);
    if (ids) conn_id = ids->conn_id;
  }
  propagate_decide(&decision, tid, conn_id);
  decision.local_port = msg->local_port;

  __u32 want = size < WEFT_PROPAGATE_HEADER_BOUND ? size : WEFT_PROPAGATE_HEADER_BOUND;
  if (data + want > end) {
    if (bpf_msg_pull_data(msg, 0, want, 0)) {
      propagate_stat_add(WEFT_PROP_PUSH_FAILED, 1);
      goto done;
    }
    data = msg->data;
    end = msg->data_end;
  }
  __u32 zero = 0;
  struct propagate_scratch *s = bpf_map_lookup_elem(&propagate_scratch_area, &zero);
  if (!s) goto done;
  __u64 avail = end - data;
  __u64 copy = want < avail ? want : avail;
  /* A mask the compiler cannot drop: the verifier sees copy within the
   * scratch area (it is at most the bound already). */
  asm volatile("%0 &= %1" : "+r"(copy) : "i"(WEFT_PROPAGATE_HEADER_BOUND * 2 - 1));
  want = copy;
  if (bpf_probe_read_kernel(s->data, copy, data)) {
    propagate_stat_add(WEFT_PROP_PUSH_FAILED, 1);
    goto done;
  }
  struct header_scan scan = {.len = want, .line_end = -1, .block_end = -1};
  bpf_loop((want + 7) / 8, scan_header_word, &scan, 0);

  if (scan.not_http1) {
    propagate_stat_add(WEFT_PROP_NOT_HTTP1, 1);
  } else if (scan.has_traceparent) {
    propagate_stat_add(WEFT_PROP_HAS_TRACEPARENT, 1);
  } else if (scan.line_end < 0 || scan.block_end < 0) {
    propagate_stat_add(WEFT_PROP_HEADERS_INCOMPLETE, 1);
  } else {
    format_traceparent_line(s->line, &decision.ctx);
    __u32 at = (__u32)scan.line_end & (WEFT_PROPAGATE_HEADER_BOUND - 1);
    if (insert_traceparent(msg, at, s->line) == 0) {
      decision.pushed = WEFT_TRACEPARENT_LINE_LEN;
      propagate_stat_add(WEFT_PROP_INJECTED, 1);
      propagate_stat_add(WEFT_PROP_BYTES_INJECTED, WEFT_TRACEPARENT_LINE_LEN);
    } else {
      propagate_stat_add(WEFT_PROP_PUSH_FAILED, 1);
    }
  }
done:
  bpf_map_update_elem(&propagate_sends, &tid, &decision, BPF_ANY);
  return WEFT_SK_PASS;
}

/* tcp_sendmsg_locked: the sk_msg decision for this thread's send, if any,
 * taken out of the map into *out. */
static __always_inline int take_propagate_decision(__u32 tid, const struct sock *sk,
                                                   struct propagate_send *out) {
  if (!propagate_headers) return 0;
  struct propagate_send *d = bpf_map_lookup_elem(&propagate_sends, &tid);
  if (!d) return 0;
  *out = *d;
  bpf_map_delete_elem(&propagate_sends, &tid);
  /* A decision left by a send that never reached TCP is not this one's. */
  return out->local_port == BPF_CORE_READ(sk, __sk_common.skc_num);
}

#endif /* WEFT_BPF_PROPAGATE_BPF_H */
