/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Kernel/user ABI of the socket capture feature: the records capture.bpf.c
 * writes into the `events` ring buffer and the maps userspace fills.
 * Plain C, fixed-width types; included by the BPF program and by the agent.
 * tests/unit/abi_layout_test.cc pins every offset.
 */
#ifndef WEFT_BPF_CAPTURE_H
#define WEFT_BPF_CAPTURE_H

#ifndef __VMLINUX_H__
#include <linux/types.h>
#endif

/* Largest capture a single data event can carry (the runtime limit,
 * `capture_limit`, is at most this). A power of two: the BPF side masks with
 * WEFT_MAX_CAPTURE - 1 to keep the verifier's bounds tight. */
#define WEFT_MAX_CAPTURE 8192
/* Most iovec entries / mmsghdr entries walked per call (verifier bound). */
#define WEFT_MAX_IOV 16
#define WEFT_MAX_TRACESTATE 0 /* tracestate travels in the bytes, not here */

enum weft_event_kind {
  WEFT_EVENT_DATA = 1,         /* bytes moved on a traced TCP socket */
  WEFT_EVENT_CLOSE = 2,        /* a traced connection reached TCP_CLOSE */
  WEFT_EVENT_PROCESS_FORK = 3, /* a traced process forked a child process */
  WEFT_EVENT_PROCESS_EXIT = 4, /* a traced process exited */
  WEFT_EVENT_ASYNC_CONTEXT = 5, /* a Python context was copied (py_async.h) */
};

enum weft_direction {
  WEFT_DIR_EGRESS = 0,  /* this process sent the bytes */
  WEFT_DIR_INGRESS = 1, /* this process received the bytes */
};

enum weft_role {
  WEFT_ROLE_UNKNOWN = 0, /* opened before weft started, or not TCP-seen */
  WEFT_ROLE_CLIENT = 1,  /* this side called connect() */
  WEFT_ROLE_SERVER = 2,  /* this side accepted the connection */
};

/* Which call moved the bytes. Size-only sources carry no captured bytes. */
enum weft_source {
  WEFT_SRC_UNKNOWN = 0, /* socket I/O outside a recognised syscall: size only */
  WEFT_SRC_READ = 1,
  WEFT_SRC_WRITE = 2,
  WEFT_SRC_READV = 3,
  WEFT_SRC_WRITEV = 4,
  WEFT_SRC_RECVFROM = 5,
  WEFT_SRC_SENDTO = 6,
  WEFT_SRC_RECVMSG = 7,
  WEFT_SRC_SENDMSG = 8,
  WEFT_SRC_RECVMMSG = 9,
  WEFT_SRC_SENDMMSG = 10,
  WEFT_SRC_SENDFILE = 11, /* size only */
  WEFT_SRC_SPLICE = 12,   /* size only */
  WEFT_SRC_IO_URING = 13, /* size only */
  WEFT_SRC_SSL_READ = 14,  /* plaintext an SSL_read / SSL_read_ex returned */
  WEFT_SRC_SSL_WRITE = 15, /* plaintext an SSL_write / SSL_write_ex took */
  WEFT_SRC_MAX = 16,
};

enum weft_data_flags {
  WEFT_DATA_TRUNCATED = 1 << 0, /* captured_len < total_len */
  WEFT_DATA_SIZE_ONLY = 1 << 1, /* no bytes could be taken from this call */
  WEFT_DATA_NO_SEQ = 1 << 2,    /* seq is not meaningful */
  /* TLS plaintext from the library's API (source SSL_*): seq is the offset in
   * the connection's plaintext stream for this direction, not a TCP seq. */
  WEFT_DATA_TLS = 1 << 3,
  /* Only the message head was copied: the rest of the call is body bytes of a
   * declared Content-Length (or all of it is), reported by size. */
  WEFT_DATA_BODY_SKIPPED = 1 << 4,
};

/* How the kernel found a span's parent (exported as weft.link.source). */
enum weft_link_source {
  WEFT_LINK_NONE = 0,        /* new trace, no parent */
  WEFT_LINK_THREAD = 1,      /* the thread's active SERVER context */
  WEFT_LINK_PEER_SOCKET = 2, /* the traced peer's CLIENT context on this node */
  WEFT_LINK_TRACEPARENT = 3, /* a W3C traceparent header in the request */
  WEFT_LINK_AMBIGUOUS = 4,   /* the thread interleaves requests: no parent given */
  WEFT_LINK_GOROUTINE = 5,   /* Go: the sending goroutine's request (go_runtime.bpf.h) */
  /* An event-loop proxy worker (nginx) sent the request while still handling
   * the request it had just read, or on the upstream connection it opened
   * while handling it. */
  WEFT_LINK_PROXY_TURN = 6,
  /* Node.js: the request the program's own async context says the call is
   * made for (node_async.h; needs `--node-links inspector`). */
  WEFT_LINK_NODE_ASYNC = 7,
  WEFT_LINK_SOURCE_MAX = 7,
};

/* Trace context the kernel assigned to the message a data event belongs to.
 * All zero when the event starts no span and belongs to none. */
struct weft_trace_context {
  __u8 trace_id[16];
  __u8 span_id[8];
  __u8 parent_span_id[8]; /* zero: root */
  __u8 trace_flags;       /* W3C flags (bit 0: sampled) */
  __u8 link_source;       /* enum weft_link_source */
  __u8 starts_span;       /* 1: this event holds the first byte of a request */
  __u8 _pad[5];
};

/* Connection 4-tuple as seen from the traced process. IPv4 addresses use the
 * first 4 bytes of the 16. Ports in host byte order. */
struct weft_tuple {
  __u8 local_addr[16];
  __u8 remote_addr[16];
  __u16 local_port;
  __u16 remote_port;
  __u16 family; /* AF_INET or AF_INET6 */
  __u16 _pad;
};

/* Common head of every record in the ring buffer. */
struct weft_event_header {
  __u64 timestamp_ns; /* CLOCK_MONOTONIC (bpf_ktime_get_ns) */
  __u32 tgid;
  __u32 tid;
  __u8 kind; /* enum weft_event_kind */
  __u8 _pad[7];
};

struct weft_data_event {
  struct weft_event_header header;
  __u64 conn_id;      /* socket cookie: stable for the connection's life */
  __s32 fd;           /* -1 when the call's fd is unknown */
  __u32 seq;          /* TCP sequence number of the first byte */
  __u32 total_len;    /* bytes the call moved on this socket */
  __u32 captured_len; /* bytes that follow this struct */
  __u8 direction;     /* enum weft_direction */
  __u8 role;          /* enum weft_role */
  __u8 source;        /* enum weft_source */
  __u8 flags;         /* enum weft_data_flags */
  __u32 _pad;
  struct weft_tuple tuple;
  struct weft_trace_context context;
  /* Egress of a CPython process weft reads asyncio contexts in: address of
   * the sending thread's current contextvars.Context (py_async.h); else 0. */
  __u64 async_context;
  __u8 data[]; /* captured_len bytes */
};

struct weft_close_event {
  struct weft_event_header header;
  __u64 conn_id;
  __u8 role;
  __u8 reset; /* 1: closed by RST / from a non-orderly state */
  __u8 _pad[6];
  struct weft_tuple tuple;
  __u64 bytes_sent;
  __u64 bytes_received;
};

struct weft_process_event {
  struct weft_event_header header;
  __u32 parent_tgid; /* fork: the traced parent; exit: 0 */
  __s32 exit_code;
};

/* The `traced_slots` array (.bss) in front of `traced_pids`: slot
 * (tgid & (WEFT_TRACED_SLOTS - 1)) holds 0 (no traced process there), the
 * one traced tgid there, or WEFT_TRACED_SLOT_SHARED (several: ask the map).
 * An untraced process, which every socket call on the node may be, is then
 * told apart with one array load instead of a hash lookup. */
#define WEFT_TRACED_SLOTS 65536
#define WEFT_TRACED_SLOT_SHARED 0xffffffffffffffffULL
/* A slot one process holds keeps its tgid in the low 32 bits and, above
 * them, which per-process maps it may be in: the socket programs skip the
 * lookups of the others (each costs a cache miss per event). A bit is set
 * before the process's first entry in that map and never cleared while the
 * process holds the slot: set means "look", not "is". A shared slot has
 * every bit set. */
#define WEFT_SLOT_TGID_MASK 0xffffffffULL
#define WEFT_SLOT_MAY_SSL (1ULL << 32)       /* has called SSL_read/SSL_write: ssl_calls */
#define WEFT_SLOT_MAY_GO (1ULL << 33)        /* go_processes */
#define WEFT_SLOT_MAY_PROXY (1ULL << 34)     /* event_loop_proxies */
#define WEFT_SLOT_MAY_MULTIPLEX (1ULL << 35) /* multiplexing_processes */
#define WEFT_SLOT_MAY_PY (1ULL << 36)        /* py_processes */
#define WEFT_SLOT_MAY_ALL (0x1fULL << 32)

/* Value of the `traced_pids` map (key: tgid). */
struct weft_pid_state {
  __u64 added_ns;
  __u32 flags;
  __u32 _pad;
};

/* Value of the `go_processes` map (key: tgid): a Go process whose runtime
 * uprobes are attached. */
struct weft_go_process {
  __s64 g_tls_offset; /* the current g's address is at FS base + this (amd64: -8) */
};

/* Counters in the per-CPU `stats` array, indexed by enum weft_stat. */
enum weft_stat {
  WEFT_STAT_EVENTS = 0,        /* records written to the ring buffer */
  WEFT_STAT_LOST = 1,          /* records that did not fit (ring full) */
  WEFT_STAT_BYTES_CAPTURED = 2,
  WEFT_STAT_TRUNCATED = 3,     /* data events cut at capture_limit */
  WEFT_STAT_SIZE_ONLY = 4,     /* socket I/O outside a recognised syscall */
  WEFT_STAT_READ_FAULTS = 5,   /* user memory that could not be read */
  WEFT_STAT_CONN_TABLE_FULL = 6,
  WEFT_STAT_TLS_UNATTRIBUTED = 7, /* SSL plaintext whose socket was never seen */
  WEFT_STAT_BODY_BYTES_SKIPPED = 8, /* body bytes of declared length, not copied */
  WEFT_STAT_NODE_SIGNALS = 9,   /* messages from Node.js hooks (node_async.h) */
  /* ... malformed, naming a socket that is no traced TCP connection, a
   * request never filed, or a server connection with no SERVER context:
   * no link comes of them */
  WEFT_STAT_NODE_UNMATCHED = 10,
  /* a thread's state (thread_states, ssl_calls) that could not be stored:
   * table full, or no memory where the tables grow as they fill */
  WEFT_STAT_THREAD_TABLE_FULL = 11,
  WEFT_STAT_MAX = 12,
};

#endif /* WEFT_BPF_CAPTURE_H */
