/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Node.js request links (ABI and rationale: node_async.h).
 *
 * Included by trace_context.bpf.h: decide_client_context asks
 * node_client_parent first for sockets a Node.js hook has spoken for. The
 * uprobe below, on libuv's uv_fs_access in the Node.js executables of traced
 * processes whose hook weft injected, turns the hook's messages into those
 * answers.
 */
#ifndef WEFT_NODE_ASYNC_BPF_H
#define WEFT_NODE_ASYNC_BPF_H

#include "vmlinux.h"
#include <bpf/bpf_core_read.h>
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_tracing.h>

#include "capture.h"
#include "capture_maps.bpf.h"
#include "node_async.h"
#include "sock_io.bpf.h"

/* The SERVER context of each request a Node.js process named (see
 * node_async.h). LRU: a request's entry outlives it only until pushed out. */
struct {
  __uint(type, BPF_MAP_TYPE_LRU_HASH);
  __uint(max_entries, 65536);
  __type(key, struct weft_node_request_key);
  __type(value, struct weft_trace_context);
} node_requests SEC(".maps");

/* The request a Node.js process is writing a socket for (key: conn_id). */
struct {
  __uint(type, BPF_MAP_TYPE_LRU_HASH);
  __uint(max_entries, 65536);
  __type(key, __u64);
  __type(value, struct weft_trace_context);
} node_sockets SEC(".maps");

/* Set by the agent once it attaches a Node.js hook: until then no other
 * process's request pays for the lookup below. */
__u32 node_processes_present = 0;

/* Parent of a request sent on conn_id that a Node.js hook spoke for, or
 * NULL. The map's own value, not a copy: the call chain's stack is tight. */
static __always_inline const struct weft_trace_context *node_client_parent(__u64 conn_id) {
  if (!node_processes_present) return 0;
  return bpf_map_lookup_elem(&node_sockets, &conn_id);
}

/* The connection id the capture gives sk (conn_id_of in capture.bpf.c),
 * from a uprobe, where bpf_get_socket_cookie is not available: the cookie
 * was generated when the capture first saw the socket (0: never seen). */
static __always_inline __u64 node_conn_id(const struct sock *sk) {
  if (conn_id_from_addr) return (__u64)sk;
  return BPF_CORE_READ(sk, __sk_common.skc_cookie.counter);
}

/* Parses the decimal number at p[*at..] up to `end` (exclusive of it);
 * advances *at past the terminator. -1 when no digit or no terminator. */
static __always_inline __s64 node_parse_decimal(const char *p, int *at, char end) {
  __s64 value = 0;
  int digits = 0;
  for (int i = 0; i < WEFT_NODE_SIGNAL_MAX; i++) {
    int k = *at;
    if (k < 0 || k >= WEFT_NODE_SIGNAL_MAX) return -1;
    char c = p[k];
    *at = k + 1;
    if (c == end) return digits ? value : -1;
    if (c < '0' || c > '9' || digits >= 17) return -1;
    value = value * 10 + (c - '0');
    digits++;
  }
  return -1;
}

/* The connection id of socket fd of the current task, or 0. */
static __always_inline __u64 node_fd_conn_id(struct task_struct *task, __s64 fd) {
  if (fd < 0 || fd > 0x7fffffff) return 0;
  struct sock *sk = sock_from_fd(task, (__s32)fd);
  if (!sk || !is_inet_tcp(sk)) return 0;
  return node_conn_id(sk);
}

/* uv_fs_access(loop, req, path, mode, cb): the hook's messages; every other
 * access() the program makes leaves at the prefix check. */
SEC("uprobe")
int BPF_KPROBE(weft_node_signal, void *loop, void *req, const char *path) {
  char msg[WEFT_NODE_SIGNAL_MAX] = {};
  long n = bpf_probe_read_user_str(msg, sizeof(msg), path);
  if (n <= WEFT_NODE_SIGNAL_PREFIX_LEN + 5) return 0;
  const char prefix[] = WEFT_NODE_SIGNAL_PREFIX;
  for (int i = 0; i < WEFT_NODE_SIGNAL_PREFIX_LEN; i++) {
    if (msg[i] != prefix[i]) return 0;
  }
  stat_add(WEFT_STAT_NODE_SIGNALS, 1);
  char kind = msg[WEFT_NODE_SIGNAL_PREFIX_LEN];
  int at = WEFT_NODE_SIGNAL_PREFIX_LEN + 2;
  if (msg[WEFT_NODE_SIGNAL_PREFIX_LEN + 1] != '/') goto unmatched;
  if (kind != WEFT_NODE_SIGNAL_REQUEST && kind != WEFT_NODE_SIGNAL_CLIENT) goto unmatched;
  __s64 token = node_parse_decimal(msg, &at, '/');
  __s64 in_fd = kind == WEFT_NODE_SIGNAL_REQUEST ? node_parse_decimal(msg, &at, '/') : 0;
  __s64 fd = node_parse_decimal(msg, &at, 0);
  if (token < 0 || in_fd < 0 || fd < 0) goto unmatched;

  struct task_struct *task = bpf_get_current_task_btf();
  __u64 conn_id = node_fd_conn_id(task, fd);
  if (!conn_id) goto unmatched;
  if (token == 0) { /* written for no request */
    bpf_map_delete_elem(&node_sockets, &conn_id);
    return 0;
  }
  struct weft_node_request_key key = {};
  key.tgid = bpf_get_current_pid_tgid() >> 32;
  key.token = (__u64)token;
  if (kind == WEFT_NODE_SIGNAL_REQUEST) {
    /* The request the server connection is reading: its SERVER context was
     * decided when its first bytes were read. */
    __u64 in_conn = node_fd_conn_id(task, in_fd);
    struct conn_state *cs = in_conn ? bpf_map_lookup_elem(&conns, &in_conn) : 0;
    if (!cs || !(cs->ctx.span_id[0] | cs->ctx.span_id[7])) {
      bpf_map_delete_elem(&node_sockets, &conn_id);
      goto unmatched;
    }
    bpf_map_update_elem(&node_requests, &key, &cs->ctx, BPF_ANY);
    bpf_map_update_elem(&node_sockets, &conn_id, &cs->ctx, BPF_ANY);
    return 0;
  }
  struct weft_trace_context *request = bpf_map_lookup_elem(&node_requests, &key);
  if (!request) {
    /* A request weft never saw filed: no parent, rather than the one the
     * socket was last written for. */
    bpf_map_delete_elem(&node_sockets, &conn_id);
    goto unmatched;
  }
  bpf_map_update_elem(&node_sockets, &conn_id, request, BPF_ANY);
  return 0;

unmatched:
  stat_add(WEFT_STAT_NODE_UNMATCHED, 1);
  return 0;
}

#endif /* WEFT_NODE_ASYNC_BPF_H */
