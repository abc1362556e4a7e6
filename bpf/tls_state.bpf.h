/* SPDX-License-Identifier: Apache-2.0 */
/*
 * TLS through a shared OpenSSL (docs/tls.md): what the socket programs need
 * to know about SSL calls in flight.
 *
 * A thread inside SSL_read / SSL_write (saved at the uprobe, key: tid) moves
 * TLS records on exactly one socket; the first socket I/O of the call names
 * that connection, and the TCP sequence number of the first TLS byte it
 * moved is what links traced peers on this node. Those records are never
 * reported: the uretprobe reports the plaintext instead.
 */
#ifndef WEFT_BPF_TLS_STATE_BPF_H
#define WEFT_BPF_TLS_STATE_BPF_H

#include "vmlinux.h"
#include <bpf/bpf_helpers.h>

#include "capture.h"
#include "capture_maps.bpf.h"
#include "sock_io.bpf.h"
#include "trace_context.bpf.h"

/* One SSL_read / SSL_write (or _ex) in flight on a thread. The entry of a
 * thread is kept between calls and rewritten in place (`active` says a call
 * is in flight): a delete and an insert per call cost more than the lookup.
 * `tuple` is valid once conn_id is set, `ctx` once has_ctx is. */
struct ssl_call {
  __u64 ssl;       /* SSL * */
  __u64 buf;       /* the caller's plaintext buffer */
  __u64 len_ptr;   /* _ex: size_t * receiving the byte count; 0: the return value */
  __u64 conn_id;   /* 0 until the call's first socket I/O */
  __u32 first_seq; /* TCP seq of the first TLS byte moved in the call's direction */
  __u8 direction;  /* enum weft_direction */
  __u8 seq_known;
  __u8 has_ctx;   /* write of a request start: CLIENT context decided at entry */
  __u8 published; /* ... and published under first_seq */
  __u8 active;    /* a call is in flight (between entry and return) */
  __u64 retry_conn; /* a retried write: the connection its context was published on */
  struct weft_tuple tuple;
  struct weft_trace_context ctx;
};

struct {
  __uint(type, BPF_MAP_TYPE_HASH);
  __uint(max_entries, 65536);
  __type(key, __u32);
  __type(value, struct ssl_call);
} ssl_calls SEC(".maps");

/* A write that failed after its first records left (non-blocking
 * WANT_WRITE): OpenSSL's retry with the same buffer continues the same
 * request, so it keeps the context already published for it (key: SSL *). */
struct ssl_write_retry {
  struct weft_trace_context ctx;
  __u64 conn_id;
  __u64 at_ns;
};

struct {
  __uint(type, BPF_MAP_TYPE_LRU_HASH);
  __uint(max_entries, 16384);
  __type(key, __u64);
  __type(value, struct ssl_write_retry);
} ssl_write_retries SEC(".maps");

/* The connection an SSL object last did I/O on (key: SSL *), for SSL_read
 * calls served from OpenSSL's buffer without touching the socket. */
struct ssl_conn {
  __u64 conn_id;
  struct weft_tuple tuple;
};

struct {
  __uint(type, BPF_MAP_TYPE_LRU_HASH);
  __uint(max_entries, 65536);
  __type(key, __u64);
  __type(value, struct ssl_conn);
} ssl_conns SEC(".maps");

/* Socket I/O by the thread `pid_tgid` on sk, first byte at TCP sequence `seq`: if
 * the thread is inside an SSL call, the call learns its connection (and
 * publishes its CLIENT context before the bytes leave) and 1 is returned: the
 * bytes are TLS records, not to be reported. */
static __always_inline int tls_socket_io(__u64 pid_tgid, const struct sock *sk, __u64 conn_id,
                                         __u32 seq, __u8 direction) {
  if (!process_may(pid_tgid >> 32, WEFT_SLOT_MAY_SSL)) return 0;
  __u32 tid = (__u32)pid_tgid;
  struct ssl_call *c = bpf_map_lookup_elem(&ssl_calls, &tid);
  if (!c || !c->active) return 0;
  if (c->conn_id == 0) {
    c->conn_id = conn_id;
    /* Nearly always the SSL object's connection of its previous calls:
     * then its tuple is known and the map is left as it is. */
    __u64 ssl = c->ssl;
    struct ssl_conn *known = bpf_map_lookup_elem(&ssl_conns, &ssl);
    if (known && known->conn_id == conn_id) {
      c->tuple = known->tuple;
    } else {
      read_tuple(sk, &c->tuple);
      struct ssl_conn sc = {};
      sc.conn_id = conn_id;
      sc.tuple = c->tuple;
      bpf_map_update_elem(&ssl_conns, &ssl, &sc, BPF_ANY);
    }
  }
  if (c->conn_id == conn_id && !c->seq_known && direction == c->direction) {
    c->first_seq = seq;
    c->seq_known = 1;
    if (c->has_ctx && (!c->published || c->retry_conn != conn_id)) {
      publish_client_context(&c->ctx, &c->tuple, seq);
      c->published = 1;
    }
  }
  return 1;
}

/* A TLS handshake record header (content type 22, version 3.x): the start
 * of a TLS connection, seen outside any SSL_read / SSL_write. */
static __always_inline int is_tls_handshake_start(const __u8 *d, __u32 len) {
  return len >= 5 && d[0] == 0x16 && d[1] == 0x03 && d[2] <= 0x04;
}

#endif /* WEFT_BPF_TLS_STATE_BPF_H */
