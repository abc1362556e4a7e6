/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Stages of a traced socket event, for the opt-in stage profiler
 * (cmake -DWEFT_BPF_STAGE_PROFILE=ON; bench/capture/stage_profile.py reads
 * the names below). Each stage is the time since the previous mark. The
 * marks follow the socket tracepoint backend (the default); on the syscall
 * backend the stages inside emit_data have no start mark of their own.
 */
#ifndef WEFT_BPF_STAGE_PROFILE_H
#define WEFT_BPF_STAGE_PROFILE_H

enum weft_stage {
  WEFT_STAGE_NONE = 0,            /* slot 0 holds the last mark's clock */
  WEFT_STAGE_MARK_COST = 1,       /* two marks in a row: what one mark adds */
  WEFT_STAGE_SOCKET_CHECK = 2,    /* failed-call handling, is the socket inet TCP */
  WEFT_STAGE_SYSCALL = 3,         /* saved syscall registers, fd -> this socket */
  WEFT_STAGE_CALL = 4,            /* socket cookie, stream sequence */
  WEFT_STAGE_EVENT_HEAD = 5,      /* staging area, event header */
  WEFT_STAGE_CONN_STATE = 6,      /* the connection's state (conns) */
  WEFT_STAGE_PENDING = 7,         /* the thread's send in flight, timestamp */
  WEFT_STAGE_TUPLE = 8,           /* addresses */
  WEFT_STAGE_TLS_CHECK = 9,       /* is the thread inside an SSL call */
  WEFT_STAGE_FIRST_COPY = 10,     /* first bytes from user memory */
  WEFT_STAGE_HEAD_SCAN = 11,      /* where an HTTP head ends */
  WEFT_STAGE_REST_COPY = 12,      /* more bytes when the head did not end */
  WEFT_STAGE_CAPTURE_END = 13,    /* capture flags, TLS handshake check */
  WEFT_STAGE_CONTEXT = 14,        /* trace context decision */
  WEFT_STAGE_CONN_UPDATE = 15,    /* asyncio task, connection counters */
  WEFT_STAGE_WAKEUP = 16,         /* ring buffer wakeup decision */
  WEFT_STAGE_RING_OUTPUT = 17,    /* bpf_ringbuf_output */
  WEFT_STAGE_EMIT_RETURN = 19,    /* back in the tracepoint program */
  WEFT_STAGE_SEND_START = 20,     /* tcp_sendmsg_locked: mark cost */
  WEFT_STAGE_SEND_PROPAGATE = 21, /* cookie, propagation decision */
  WEFT_STAGE_SEND_TLS = 22,       /* write_seq, SSL call check */
  WEFT_STAGE_SEND_PENDING = 23,   /* the thread's pending send entry */
  WEFT_STAGE_SEND_DECIDE = 24,    /* first bytes, CLIENT context */
  WEFT_STAGE_SEND_STORE = 25,     /* pending send written */
  WEFT_STAGE_COUNT = 32,
};

#endif /* WEFT_BPF_STAGE_PROFILE_H */
