/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Kernel/user ABI of traceparent propagation (bpf/propagate.bpf.h): the
 * bounds the sk_msg program works within and the counters it keeps for every
 * request it changes or leaves alone. Plain C, fixed-width types; included by
 * the BPF program and by the agent. tests/unit/propagate_abi_test.cc pins it.
 */
#ifndef WEFT_BPF_PROPAGATE_H
#define WEFT_BPF_PROPAGATE_H

#ifndef __VMLINUX_H__
#include <linux/types.h>
#endif

/* A request whose header block (request line through the blank line) is
 * longer than this, or not wholly in the first send, is left alone. */
#define WEFT_PROPAGATE_HEADER_BOUND 2048
/* "traceparent: 00-" + 32 hex + "-" + 16 hex + "-" + 2 hex + "\r\n" */
#define WEFT_TRACEPARENT_LINE_LEN 70

/* Counters in the per-CPU `propagate_stats` array, by enum weft_propagate_stat.
 * Every send a traced process makes on a socket in weft's sockhash lands in
 * exactly one of the *_LEFT_ALONE / INJECTED / CONTINUATION counters. */
enum weft_propagate_stat {
  WEFT_PROP_SOCKETS_ADDED = 0,   /* traced client sockets put in the sockhash */
  WEFT_PROP_SOCKHASH_FULL = 1,   /* sockhash insert refused (full, or kernel said no) */
  WEFT_PROP_INJECTED = 2,        /* requests given a traceparent header */
  WEFT_PROP_CONTINUATION = 3,    /* sends that do not start an HTTP/1.x request */
  WEFT_PROP_HAS_TRACEPARENT = 4, /* requests that already carry one: left alone */
  WEFT_PROP_HEADERS_INCOMPLETE = 5, /* header block not in this send or over the bound */
  WEFT_PROP_NOT_HTTP1 = 6,       /* request line not ending in " HTTP/1.x\r\n" */
  WEFT_PROP_PUSH_FAILED = 7,     /* bpf_msg_push_data / pull_data refused (memory) */
  WEFT_PROP_UNTRACED_SENDER = 8, /* the sending thread is not traced: left alone */
  WEFT_PROP_BYTES_INJECTED = 9,  /* header bytes added in total */
  WEFT_PROP_STAT_MAX = 10,
};

#endif /* WEFT_BPF_PROPAGATE_H */
