/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Trace context decided at the byte boundary (docs/architecture.md):
 * - a thread reading the start of an HTTP request gets a SERVER context
 *   (from an incoming traceparent, else from the traced peer's CLIENT
 *   context on this node, else a new trace) that stays its active context
 *   until it writes the response;
 * - a thread writing the start of an HTTP request gets a CLIENT context
 *   whose parent is the thread's active context, remembered by
 *   (sender, receiver, TCP sequence) so a traced server here can adopt it.
 * Recognisers are cheap prefix checks; full parsing stays in userspace.
 */
#ifndef WEFT_BPF_TRACE_CONTEXT_BPF_H
#define WEFT_BPF_TRACE_CONTEXT_BPF_H

#include "vmlinux.h"
#include <bpf/bpf_helpers.h>

#include "capture.h"
#include "capture_maps.bpf.h"
#include "go_runtime.bpf.h" /* goroutine contexts (issue 7) */
#include "node_async.bpf.h" /* Node.js request links */

/* How far into a request the traceparent header is looked for. */
#define WEFT_TRACEPARENT_SCAN 1024
/* "traceparent:" + " " + "00-" + 32 + "-" + 16 + "-" + 2 */
#define WEFT_TRACEPARENT_VALUE_LEN 55
/* '\n' + "traceparent:" + ' ' + value */
#define WEFT_TRACEPARENT_MIN_LINE (1 + 12 + 1 + WEFT_TRACEPARENT_VALUE_LEN)

static __always_inline __u64 load_u64(const __u8 *p) {
  __u64 v;
  __builtin_memcpy(&v, p, 8);
  return v;
}

#define WEFT_STR8(a, b, c, d, e, f, g, h)                                             \
  ((__u64)(a) | (__u64)(b) << 8 | (__u64)(c) << 16 | (__u64)(d) << 24 |               \
   (__u64)(e) << 32 | (__u64)(f) << 40 | (__u64)(g) << 48 | (__u64)(h) << 56)

/* Does `p` (at least 8 readable bytes, `len` of them valid) start with an
 * HTTP/1.x request line? */
static __always_inline int is_http_request_start(const __u8 *p, __u32 len) {
  if (len < 8) return 0;
  __u64 w = load_u64(p);
  __u64 w4 = w & 0xffffffffULL;
  if (w4 == WEFT_STR8('G', 'E', 'T', ' ', 0, 0, 0, 0)) return 1;
  if (w4 == WEFT_STR8('P', 'U', 'T', ' ', 0, 0, 0, 0)) return 1;
  __u64 w5 = w & 0xffffffffffULL;
  if (w5 == WEFT_STR8('P', 'O', 'S', 'T', ' ', 0, 0, 0)) return 1;
  if (w5 == WEFT_STR8('H', 'E', 'A', 'D', ' ', 0, 0, 0)) return 1;
  __u64 w6 = w & 0xffffffffffffULL;
  if (w6 == WEFT_STR8('P', 'A', 'T', 'C', 'H', ' ', 0, 0)) return 1;
  if (w6 == WEFT_STR8('T', 'R', 'A', 'C', 'E', ' ', 0, 0)) return 1;
  __u64 w7 = w & 0xffffffffffffffULL;
  if (w7 == WEFT_STR8('D', 'E', 'L', 'E', 'T', 'E', ' ', 0)) return 1;
  if (w == WEFT_STR8('O', 'P', 'T', 'I', 'O', 'N', 'S', ' ')) return 1;
  if (w == WEFT_STR8('C', 'O', 'N', 'N', 'E', 'C', 'T', ' ')) return 1;
  return 0;
}

static __always_inline int is_http_response_start(const __u8 *p, __u32 len) {
  if (len < 8) return 0;
  __u64 w = load_u64(p) & 0xffffffffffffffULL;
  return w == WEFT_STR8('H', 'T', 'T', 'P', '/', '1', '.', 0);
}

static __always_inline void random_bytes(__u8 *out, int n) {
  for (int i = 0; i < n; i += 4) {
    __u32 r = bpf_get_prandom_u32();
    __builtin_memcpy(out + i, &r, 4);
  }
}

/* A context that starts a new trace (sampled: sampling is decided later). */
static __always_inline void new_trace(struct weft_trace_context *ctx, __u8 link_source) {
  random_bytes(ctx->trace_id, 16);
  ctx->trace_id[15] |= 1;
  ctx->trace_flags = 1;
  ctx->link_source = link_source;
}

/* A context in `parent`'s trace whose parent span is `parent`'s span. */
static __always_inline void child_of(struct weft_trace_context *ctx,
                                     const struct weft_trace_context *parent, __u8 link_source) {
  __builtin_memcpy(ctx->trace_id, parent->trace_id, 16);
  __builtin_memcpy(ctx->parent_span_id, parent->span_id, 8);
  ctx->trace_flags = parent->trace_flags;
  ctx->link_source = link_source;
}

static __always_inline void new_span_id(__u8 span_id[8]) {
  random_bytes(span_id, 8);
  /* A zero span id is invalid; make sure at least one bit is set. */
  span_id[7] |= 1;
}

static __always_inline int hex_value(__u8 c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  return -1; /* W3C: lower-case only */
}

/* Parses 2*n hex digits at p into out; 0 on success. */
static __always_inline int parse_hex(const __u8 *p, __u8 *out, int n) {
  __u8 any = 0;
  for (int i = 0; i < n; i++) {
    int hi = hex_value(p[2 * i]);
    int lo = hex_value(p[2 * i + 1]);
    if (hi < 0 || lo < 0) return -1;
    out[i] = (__u8)(hi << 4 | lo);
    any |= out[i];
  }
  return any ? 0 : -1; /* all-zero ids are invalid */
}

#define WEFT_ONES 0x0101010101010101ULL
#define WEFT_HIGHS 0x8080808080808080ULL

/* Does the header line at h start with "traceparent:" (any case)? OR-ing
 * 0x20 lower-cases letters and leaves ':' as it is. */
static __always_inline int is_traceparent_name(const __u8 *h) {
  __u64 a = load_u64(h) | 0x2020202020202020ULL;
  __u32 b;
  __builtin_memcpy(&b, h + 8, 4);
  b |= 0x20202020U;
  return a == WEFT_STR8('t', 'r', 'a', 'c', 'e', 'p', 'a', 'r') &&
         b == ((__u32)'e' | (__u32)'n' << 8 | (__u32)'t' << 16 | (__u32)':' << 24);
}

struct traceparent_scan {
  const __u8 *d; /* the staging area */
  __u32 len;     /* valid bytes in it */
  __s32 value;   /* offset of the header value, or -1 */
};

/* bpf_loop callback: looks at the 8 bytes of word `i` for a '\n' that starts
 * a traceparent header. Word-at-a-time keeps the scan near 1 ns per word. */
static int scan_traceparent_word(__u32 i, void *arg) {
  struct traceparent_scan *scan = arg;
  __u32 off = (i * 8) & (WEFT_MAX_CAPTURE - 1);
  /* A header needs '\n', the name (12), a space and the value within the
   * valid bytes. The last header of a request may end a few bytes before the
   * word's end, so the bound is checked per byte below (the staging area is
   * twice the capture: the word itself is always readable). */
  if (off + WEFT_TRACEPARENT_MIN_LINE > scan->len) return 1;
  const __u8 *d = scan->d;
  __u64 x = load_u64(d + off) ^ 0x0a0a0a0a0a0a0a0aULL; /* '\n' bytes become 0 */
  if (!((x - WEFT_ONES) & ~x & WEFT_HIGHS)) return 0;
  for (int j = 0; j < 8; j++) {
    if (off + j + WEFT_TRACEPARENT_MIN_LINE > scan->len) return 1;
    if (d[off + j] != '\n') continue;
    if (!is_traceparent_name(d + off + j + 1)) continue;
    __u32 v = off + j + 1 + 12;
    if (d[v] == ' ') v++;
    if (d[v & (2 * WEFT_MAX_CAPTURE - 1)] == ' ') v++;
    scan->value = (__s32)v;
    return 1;
  }
  return 0;
}

/* Offset of the value of a "traceparent:" header within the first bytes of
 * a request in the staging area (len valid bytes), or -1. */
static __always_inline int find_traceparent(const __u8 *d, __u32 len) {
  struct traceparent_scan scan = {.d = d, .len = len, .value = -1};
  __u32 limit = len < WEFT_TRACEPARENT_SCAN ? len : WEFT_TRACEPARENT_SCAN;
  bpf_loop(limit / 8, scan_traceparent_word, &scan, 0);
  return scan.value;
}

/* Parses "00-<trace>-<span>-<flags>" at d[pos] into ctx; 0 on success. */
static __always_inline int parse_traceparent(const __u8 *d, int pos, struct weft_trace_context *ctx) {
  const __u8 *p = d + (pos & (WEFT_MAX_CAPTURE - 1));
  int vhi = hex_value(p[0]), vlo = hex_value(p[1]);
  if (vhi < 0 || vlo < 0 || (vhi == 0xf && vlo == 0xf)) return -1;
  if (p[2] != '-' || p[35] != '-' || p[52] != '-') return -1;
  if (parse_hex(p + 3, ctx->trace_id, 16)) return -1;
  if (parse_hex(p + 36, ctx->parent_span_id, 8)) return -1;
  __u8 flags = 0;
  int hi = hex_value(p[53]), lo = hex_value(p[54]);
  if (hi < 0 || lo < 0) return -1;
  flags = (__u8)(hi << 4 | lo);
  ctx->trace_flags = flags;
  return 0;
}

/* Might a traced client on this node have published a context for bytes
 * this side receives on connection t? (client_context_hints) */
static __always_inline int peer_may_have_published(const struct weft_tuple *t) {
  __u64 *hint = &client_context_hints[client_context_slot(t->remote_port, t->local_port)];
  __u64 at = *hint;
  return at != 0 && bpf_ktime_get_ns() - at < WEFT_CLIENT_HINT_NS;
}

static __always_inline void make_peer_key(struct peer_key *k, const struct weft_tuple *t,
                                          __u8 this_side_sends, __u32 seq) {
  if (this_side_sends) {
    __builtin_memcpy(k->sender_addr, t->local_addr, 16);
    __builtin_memcpy(k->receiver_addr, t->remote_addr, 16);
    k->sender_port = t->local_port;
    k->receiver_port = t->remote_port;
  } else {
    __builtin_memcpy(k->sender_addr, t->remote_addr, 16);
    __builtin_memcpy(k->receiver_addr, t->local_addr, 16);
    k->sender_port = t->remote_port;
    k->receiver_port = t->local_port;
  }
  k->seq = seq;
}

/* The thread's active SERVER context, or NULL. A thread's entry is kept
 * once its response is written, marked inactive: rewriting it in place for
 * the next request costs less than an insert and a delete per request. */
static __always_inline struct thread_context *active_thread_context(__u32 tid) {
  struct thread_state *t = thread_state_of(tid);
  return t && t->server.active ? &t->server : 0;
}

/* The thread wrote the response: its SERVER context ends. */
static __always_inline void end_thread_context(struct thread_context *t) {
  t->active = 0;
  t->proxy_armed = 0;
}

/* A thread read the start of a request: decide the SERVER context and make
 * it the thread's active one. `d` holds `len` captured request bytes;
 * `thread` is the thread's entry (thread_state_for: NULL only when the map
 * is full), which the caller looked up; `traceparent` the offset of a
 * traceparent value when the caller's head scan found it (-1: none), or
 * below -1 to look for it here. */
static __always_inline void start_server_context_in(struct weft_trace_context *ctx, __u32 tid,
                                                    __u64 conn_id, const __u8 *d, __u32 len,
                                                    const struct weft_tuple *t, __u32 seq,
                                                    struct thread_state *thread,
                                                    int traceparent) {
  __builtin_memset(ctx, 0, sizeof(*ctx));
  int pos = traceparent >= -1 ? traceparent : find_traceparent(d, len);
  if (pos >= 0 && parse_traceparent(d, pos, ctx) == 0) {
    ctx->link_source = WEFT_LINK_TRACEPARENT;
    /* The header weft's propagation wrote for a traced client on this node
     * names that client's CLIENT span: the peer-socket link it is. */
    struct peer_key key = {};
    make_peer_key(&key, t, 0, seq);
    struct weft_trace_context *client =
        peer_may_have_published(t) ? bpf_map_lookup_elem(&client_contexts, &key) : 0;
    if (client) {
      if (load_u64(client->span_id) == load_u64(ctx->parent_span_id) &&
          load_u64(client->trace_id) == load_u64(ctx->trace_id) &&
          load_u64(client->trace_id + 8) == load_u64(ctx->trace_id + 8))
        ctx->link_source = WEFT_LINK_PEER_SOCKET;
      bpf_map_delete_elem(&client_contexts, &key);
    }
  } else {
    __builtin_memset(ctx, 0, sizeof(*ctx));
    struct peer_key key = {};
    make_peer_key(&key, t, 0, seq);
    struct weft_trace_context *client =
        peer_may_have_published(t) ? bpf_map_lookup_elem(&client_contexts, &key) : 0;
    if (client) {
      child_of(ctx, client, WEFT_LINK_PEER_SOCKET);
      bpf_map_delete_elem(&client_contexts, &key);
    } else {
      new_trace(ctx, WEFT_LINK_NONE);
    }
  }
  new_span_id(ctx->span_id);
  ctx->starts_span = 1;

  /* A thread that reads a new request while a request on another
   * connection is still unanswered interleaves requests (an event loop, a
   * goroutine scheduler thread): its sends cannot be tied to one request, so
   * it gives no thread links from now on. A missing link beats a wrong one. */
  if (thread) {
    struct thread_context *previous = &thread->server;
    if (previous->active && previous->conn_id != conn_id) thread->multiplexing = 1;
    copy_context(&previous->ctx, ctx);
    previous->ctx.starts_span = 0;
    previous->conn_id = conn_id;
    previous->proxy_armed = 1;
    previous->active = 1;
  }
  /* Go: the context also follows the goroutine that read the request. */
  go_start_server_context(bpf_get_current_pid_tgid() >> 32, conn_id, ctx);
}

static __always_inline void start_server_context(struct weft_trace_context *ctx, __u32 tid,
                                                 __u64 conn_id, const __u8 *d, __u32 len,
                                                 const struct weft_tuple *t, __u32 seq) {
  start_server_context_in(ctx, tid, conn_id, d, len, t, seq, thread_state_for(tid), -2);
}

/* ---- event-loop proxies (nginx) -------------------------------------------
 * A proxy worker reads a request and, in the same handler, either writes the
 * upstream request on a cached keep-alive connection or opens a new upstream
 * connection and writes the request once the connect completes, possibly
 * after handling many other requests. So a request it sends has a parent when
 * - it is the first request on a connection the worker opened while handling
 *   request R (the connect is the evidence), or
 * - the worker has done nothing since reading R but read more of R: no other
 *   connection's bytes in or out, no other request forwarded for R.
 * Anything else is ambiguous. Event loops that run handlers later (asyncio
 * tasks, Node.js timers) break the second rule, so it is only applied to
 * processes userspace marks as event-loop proxies. */

static __always_inline int is_event_loop_proxy(__u32 tgid) {
  return process_may(tgid, WEFT_SLOT_MAY_PROXY) &&
         bpf_map_lookup_elem(&event_loop_proxies, &tgid) != 0;
}

/* The request the worker is handling, consumed: one forward per request. */
static __always_inline int take_proxy_turn(__u32 tid, struct weft_trace_context *server) {
  struct thread_context *active = active_thread_context(tid);
  if (!active || !active->proxy_armed) return 0;
  active->proxy_armed = 0;
  *server = active->ctx;
  return 1;
}

/* A proxy worker moved bytes on conn_id: unless that is the connection of
 * the request it is handling, it has turned to other work. */
static __always_inline void proxy_observe_io(__u32 tid, __u64 conn_id) {
  struct thread_context *active = active_thread_context(tid);
  if (active && active->proxy_armed && active->conn_id != conn_id) active->proxy_armed = 0;
}

/* connect() by a proxy worker: the new connection belongs to the request the
 * worker is handling. */
static __always_inline void proxy_observe_connect(__u32 tid, __u64 conn_id) {
  struct weft_trace_context server;
  if (!take_proxy_turn(tid, &server)) return;
  bpf_map_update_elem(&proxy_connections, &conn_id, &server, BPF_ANY);
}

/* Parent of a request a proxy worker sends on conn_id; 0 if ambiguous. */
static __always_inline int proxy_turn_parent(__u32 tid, __u64 conn_id,
                                             struct weft_trace_context *server) {
  struct weft_trace_context *opened_for = bpf_map_lookup_elem(&proxy_connections, &conn_id);
  if (opened_for) {
    copy_context(server, opened_for);
    bpf_map_delete_elem(&proxy_connections, &conn_id);
    /* The worker may have opened it within this very turn. */
    struct thread_context *active = active_thread_context(tid);
    if (active && active->proxy_armed &&
        load_u64(active->ctx.span_id) == load_u64(server->span_id))
      active->proxy_armed = 0;
    return 1;
  }
  return take_proxy_turn(tid, server);
}

/* Decides a CLIENT context for a request the thread is about to send: its
 * parent is the thread's active context. Not yet published. */
static __always_inline void decide_client_context(struct weft_trace_context *ctx, __u32 tid,
                                                  __u64 conn_id) {
  __builtin_memset(ctx, 0, sizeof(*ctx));
  __u32 tgid = bpf_get_current_pid_tgid() >> 32;
  struct weft_trace_context parent;
  const struct weft_trace_context *node_request;
  if (is_event_loop_proxy(tgid)) {
    if (proxy_turn_parent(tid, conn_id, &parent))
      child_of(ctx, &parent, WEFT_LINK_PROXY_TURN);
    else
      new_trace(ctx, WEFT_LINK_AMBIGUOUS);
  } else if ((node_request = node_client_parent(conn_id))) {
    /* Node.js: the program's own async context named the request. */
    child_of(ctx, node_request, WEFT_LINK_NODE_ASYNC);
  } else if (go_client_parent(tgid, &parent)) {
    /* Go: the goroutine, not the thread, says which request this is for. */
    child_of(ctx, &parent, WEFT_LINK_GOROUTINE);
  } else {
    struct thread_state *thread = thread_state_of(tid);
    struct thread_context *active = thread && thread->server.active ? &thread->server : 0;
    int multiplexing = (thread && thread->multiplexing) ||
                       (process_may(tgid, WEFT_SLOT_MAY_MULTIPLEX) &&
                        bpf_map_lookup_elem(&multiplexing_processes, &tgid) != 0);
    if (active && !multiplexing)
      child_of(ctx, &active->ctx, WEFT_LINK_THREAD);
    else
      new_trace(ctx, multiplexing ? WEFT_LINK_AMBIGUOUS : WEFT_LINK_NONE);
  }
  new_span_id(ctx->span_id);
  ctx->starts_span = 1;
}

/* Publishes a CLIENT context under (sender, receiver, sequence of the first
 * byte on the wire) for a traced server on this node. */
static __always_inline void publish_client_context(const struct weft_trace_context *ctx,
                                                   const struct weft_tuple *t, __u32 seq) {
  struct peer_key key = {};
  make_peer_key(&key, t, 1, seq);
  struct weft_trace_context published = *ctx;
  published.starts_span = 0;
  bpf_map_update_elem(&client_contexts, &key, &published, BPF_ANY);
  /* After the update: a reader that sees the hint finds the entry. */
  client_context_hints[client_context_slot(t->local_port, t->remote_port)] = bpf_ktime_get_ns();
}

/* A thread is about to send the start of a request: decide the CLIENT
 * context (parent: the thread's active context) and publish it for a traced
 * peer on this node. */
static __always_inline void start_client_context(struct weft_trace_context *ctx, __u32 tid,
                                                 __u64 conn_id, const struct weft_tuple *t,
                                                 __u32 seq) {
  decide_client_context(ctx, tid, conn_id);
  publish_client_context(ctx, t, seq);
}

#endif /* WEFT_BPF_TRACE_CONTEXT_BPF_H */
