/* SPDX-License-Identifier: Apache-2.0 */
/* Maps and load-time tunables of the capture object (kernel-only). */
#ifndef WEFT_BPF_CAPTURE_MAPS_BPF_H
#define WEFT_BPF_CAPTURE_MAPS_BPF_H

#include "vmlinux.h"
#include <bpf/bpf_helpers.h>

#include "capture.h"

/* --- tunables, set by the loader before load ---------------------------- */
const volatile __u32 capture_limit = 4096;  /* bytes per data event, <= WEFT_MAX_CAPTURE */
const volatile __u32 agent_tgid = 0;        /* weft itself: never traced */
/* 1: conn_id is the struct sock address (syscall backend, where no trusted
 * socket pointer exists to ask for a cookie); 0: the socket cookie. */
const volatile __u8 conn_id_from_addr = 0;
/* Ring-buffer bytes pending before the consumer is woken; below this the
 * consumer picks records up on its poll timeout. 0: wake on every record. */
const volatile __u32 wakeup_bytes = 0;
/* 1: decide trace context for HTTP/1.x requests and responses. */
const volatile __u8 trace_context_enabled = 1;
/* Capture message heads only when the body's length is declared (http_head.bpf.h). */
const volatile __u8 skip_bodies = 1;
/* Measurement builds only (cmake -DWEFT_BPF_CAPTURE_FLOOR=1|2, capture.bpf.c);
 * not a tunable: the loader reads it to warn that such a build is running. */
#ifndef WEFT_BPF_CAPTURE_FLOOR
#define WEFT_BPF_CAPTURE_FLOOR 0
#endif
const volatile __u8 capture_floor_build = WEFT_BPF_CAPTURE_FLOOR;

/* --- maps ----------------------------------------------------------------- */
struct {
  __uint(type, BPF_MAP_TYPE_RINGBUF);
  __uint(max_entries, 8 * 1024 * 1024); /* resized by the loader */
} events SEC(".maps");

/* Processes being traced (key: tgid). Userspace seeds it; fork adds children. */
struct {
  __uint(type, BPF_MAP_TYPE_HASH);
  __uint(max_entries, 16384);
  __type(key, __u32);
  __type(value, struct weft_pid_state);
} traced_pids SEC(".maps");

struct {
  __uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
  __uint(max_entries, WEFT_STAT_MAX);
  __type(key, __u32);
  __type(value, __u64);
} stats SEC(".maps");

static __always_inline void stat_add(__u32 index, __u64 n) {
  __u64 *v = bpf_map_lookup_elem(&stats, &index);
  if (v) *v += n;
}

/* Role of TCP connections established while weft runs, node-wide (the
 * passive side completes in softirq, where the owner is not yet known). */
struct {
  __uint(type, BPF_MAP_TYPE_LRU_HASH);
  __uint(max_entries, 65536);
  __type(key, __u64);
  __type(value, __u8);
} conn_roles SEC(".maps");

/* Per traced connection state (key: conn_id). */
struct conn_state {
  __u32 tgid;
  __u8 role;
  __u8 tls; /* 1: TLS on the wire; only the SSL_* plaintext is reported */
  __u8 event_loop_proxy; /* the owner is in event_loop_proxies */
  __u8 _pad[1];
  __u64 bytes_sent;
  __u64 bytes_received;
  struct weft_tuple tuple;       /* at TCP_CLOSE the socket is already unhashed */
  struct weft_trace_context ctx; /* context of the message last started */
  __u64 tls_offset[2];           /* plaintext bytes so far, by enum weft_direction */
  __u64 body_left[2]; /* declared body bytes still to come, by direction: not copied */
  __u32 bytes_pushed; /* header bytes propagation inserted so far (egress) */
  /* A request's first byte read alone, held for the next read (go_runtime.bpf.h). */
  __u32 held_seq;
  __u8 held_byte;
  __u8 has_held_byte;
  __u8 answered; /* 1: the last bytes on the connection went out */
  __u8 _pad2[5];
};

struct {
  __uint(type, BPF_MAP_TYPE_LRU_HASH);
  __uint(max_entries, 65536);
  __type(key, __u64);
  __type(value, struct conn_state);
} conns SEC(".maps");

/* A thread's active SERVER context, from reading a request until writing
 * its response (thread_state.server). */
struct thread_context {
  struct weft_trace_context ctx;
  __u64 conn_id;
  /* Event-loop proxies: 1 while the worker is still handling this request
   * (nothing else happened on the thread since it was read), see
   * proxy_turn_parent in trace_context.bpf.h. */
  __u8 proxy_armed;
  __u8 active; /* 0: the response was written; the entry waits for the next request */
  __u8 _pad[6];
};

/* Processes whose threads are known to interleave requests from the start
 * (Go: goroutines move between threads), set by userspace (key: tgid). */
struct {
  __uint(type, BPF_MAP_TYPE_HASH);
  __uint(max_entries, 16384);
  __type(key, __u32);
  __type(value, __u8);
} multiplexing_processes SEC(".maps");

/* Event-loop proxies (nginx workers), set by userspace and inherited at fork
 * (key: tgid): each request is handled to the point of forwarding before the
 * worker turns to another, so the request a worker is handling can be told
 * from the order of its socket operations (proxy_turn_parent). */
struct {
  __uint(type, BPF_MAP_TYPE_HASH);
  __uint(max_entries, 16384);
  __type(key, __u32);
  __type(value, __u8);
} event_loop_proxies SEC(".maps");

/* The SERVER context an event-loop proxy was handling when it opened an
 * upstream connection (key: conn_id of that connection): the parent of the
 * first request sent on it, whenever the connect completes. */
struct {
  __uint(type, BPF_MAP_TYPE_LRU_HASH);
  __uint(max_entries, 16384);
  __type(key, __u64);
  __type(value, struct weft_trace_context);
} proxy_connections SEC(".maps");

/* CLIENT contexts by the bytes they start, so a traced server on this node
 * can adopt them: (sender, receiver, TCP sequence of the first byte). */
struct peer_key {
  __u8 sender_addr[16];
  __u8 receiver_addr[16];
  __u16 sender_port;
  __u16 receiver_port;
  __u32 seq;
};

struct {
  __uint(type, BPF_MAP_TYPE_LRU_HASH);
  __uint(max_entries, 65536);
  __type(key, struct peer_key);
  __type(value, struct weft_trace_context);
} client_contexts SEC(".maps");

/* When a CLIENT context was last published for a connection hashing to each
 * slot (by ports: see client_context_slot). A server reading a request looks
 * in client_contexts only when its connection's slot saw a publication
 * recently: the lookup is a cache miss in a large table, the most expensive
 * step of a request read, and most servers have no traced client on this
 * node. A stale or colliding slot only costs the lookup. */
#define WEFT_CLIENT_HINT_SLOTS 4096
/* A request is read long before this after it was sent, or never. */
#define WEFT_CLIENT_HINT_NS (60ULL * 1000 * 1000 * 1000)
__u64 client_context_hints[WEFT_CLIENT_HINT_SLOTS];

static __always_inline __u32 client_context_slot(__u16 sender_port, __u16 receiver_port) {
  return ((__u32)sender_port * 0x9e37U ^ receiver_port) & (WEFT_CLIENT_HINT_SLOTS - 1);
}

/* Context decided at tcp_sendmsg_locked (before the bytes leave), handed to
 * the send's data event (thread_state.pending); `active` says a send is in
 * flight. */
struct pending_send {
  __u64 conn_id;
  __u64 start_ns; /* when the send began: before the peer can read a byte */
  __u32 seq;
  __u32 pushed; /* bytes the sk_msg program inserted into this send */
  struct weft_trace_context ctx;
  __u8 active;
  __u8 _pad[7];
};

/* Everything the socket programs keep per thread, in one entry (key: tid):
 * each separate map cost a cache miss per event. Kept between requests and
 * rewritten in place (an insert and a delete per request cost more), deleted
 * when the thread exits. */
struct thread_state {
  struct thread_context server;
  struct pending_send pending;
  /* Seen interleaving requests (start_server_context_in): no thread links. */
  __u8 multiplexing;
  __u8 _pad[7];
};

struct {
  __uint(type, BPF_MAP_TYPE_HASH);
  __uint(max_entries, 65536);
  __type(key, __u32);
  __type(value, struct thread_state);
} thread_states SEC(".maps");

/* A zeroed thread_state to insert from: never written (on the stack it
 * would take a third of the call chain's 512 bytes). */
struct {
  __uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
  __uint(max_entries, 1);
  __type(key, __u32);
  __type(value, struct thread_state);
} blank_thread_state SEC(".maps");

/* *dst = *src by words: as a struct assignment between two pointers the
 * byte-aligned struct is copied a byte at a time through a stack slot per
 * byte (the two may overlap), taking a tenth of the call chain's stack. */
static __always_inline void copy_context(struct weft_trace_context *dst,
                                         const struct weft_trace_context *src) {
  _Static_assert(sizeof(*dst) == 40, "weft_trace_context is five words");
  __u64 *d = (__u64 *)dst;
  const __u64 *s = (const __u64 *)src;
  d[0] = s[0];
  d[1] = s[1];
  d[2] = s[2];
  d[3] = s[3];
  d[4] = s[4];
}

/* The thread's entry, or NULL. */
static __always_inline struct thread_state *thread_state_of(__u32 tid) {
  return bpf_map_lookup_elem(&thread_states, &tid);
}

/* The thread's entry, made if it has none; NULL only if the map is full. */
static __always_inline struct thread_state *thread_state_for(__u32 tid) {
  struct thread_state *t = bpf_map_lookup_elem(&thread_states, &tid);
  if (t) return t;
  __u32 zero = 0;
  struct thread_state *blank = bpf_map_lookup_elem(&blank_thread_state, &zero);
  if (!blank) return 0;
  bpf_map_update_elem(&thread_states, &tid, blank, BPF_NOEXIST);
  struct thread_state *created = bpf_map_lookup_elem(&thread_states, &tid);
  if (!created) stat_add(WEFT_STAT_THREAD_TABLE_FULL, 1);
  return created;
}

/* Syscall backend: arguments saved at sys_enter (key: tid). */
struct syscall_args {
  __s64 nr;
  __u64 arg[4];
};

struct {
  __uint(type, BPF_MAP_TYPE_HASH);
  __uint(max_entries, 65536);
  __type(key, __u32);
  __type(value, struct syscall_args);
} active_syscalls SEC(".maps");

/* Per-CPU staging for one data event. The data area is twice the largest
 * capture so the verifier can prove `offset + chunk` stays inside. */
struct capture_scratch {
  struct weft_data_event ev;
  __u8 data[2 * WEFT_MAX_CAPTURE];
  /* What the head scan (http_head.bpf.h) saw of the staged message start,
   * so the traceparent lookup does not scan the same bytes again:
   * the offset past the head, or -1 (not scanned, or no end seen); */
  __s32 scanned_head_end;
  /* the '\n' before the first traceparent header in the head, or -1. */
  __s32 scanned_traceparent;
};

struct {
  __uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
  __uint(max_entries, 1);
  __type(key, __u32);
  __type(value, struct capture_scratch);
} scratch SEC(".maps");

/* The thread's send in flight, or NULL. */
static __always_inline struct pending_send *active_pending_send(__u32 tid) {
  struct thread_state *t = thread_state_of(tid);
  return t && t->pending.active ? &t->pending : 0;
}

/* Ends the thread's send in flight, if any (the entry stays for the next). */
static __always_inline void end_pending_send(__u32 tid) {
  struct thread_state *t = thread_state_of(tid);
  if (t) t->pending.active = 0;
}

/* See WEFT_TRACED_SLOTS in capture.h. Written by the kernel at fork and
 * exit, and by the agent (the skeleton's mapped .bss) when it starts or
 * stops tracing a process; every write is a compare-and-swap. */
__u64 traced_slots[WEFT_TRACED_SLOTS]; /* 64-bit: BPF's 32-bit atomics need cpu v3 */

static __always_inline __u64 *traced_slot(__u32 tgid) {
  return &traced_slots[tgid & (WEFT_TRACED_SLOTS - 1)];
}

/* Does `value` say tgid holds its slot alone? (tgid 0 never does: an
 * empty slot is 0.) */
static __always_inline int slot_held_by(__u64 value, __u32 tgid) {
  return (__u32)value == tgid && tgid != 0;
}

/* tgid joined traced_pids with the WEFT_SLOT_MAY_* bits `may`: claim its
 * slot, or mark the slot shared. */
static __always_inline void traced_slot_add(__u32 tgid, __u64 may) {
  __u64 *slot = traced_slot(tgid);
  __u64 was = __sync_val_compare_and_swap(slot, 0, (__u64)tgid | may);
  if (was != 0 && !slot_held_by(was, tgid))
    __sync_lock_test_and_set(slot, WEFT_TRACED_SLOT_SHARED);
}

/* Rewrites the slot tgid holds alone: emptied (`release`), or with bit
 * `may` added. A shared slot, or one held by another tgid, is left as it is.
 * Retried when another writer changed it in between; a slot that keeps
 * changing becomes shared (every bit set) rather than name a tgid that is
 * gone or lack a bit. */
static __always_inline void traced_slot_rewrite(__u32 tgid, __u64 may, int release) {
  __u64 *slot = traced_slot(tgid);
  __u64 seen = *slot;
  for (int i = 0; i < 4; i++) {
    if (!slot_held_by(seen, tgid) || (!release && (seen & may))) return;
    __u64 was = __sync_val_compare_and_swap(slot, seen, release ? 0 : seen | may);
    if (was == seen) return;
    seen = was;
  }
  __sync_lock_test_and_set(slot, WEFT_TRACED_SLOT_SHARED);
}

/* tgid is leaving traced_pids: free its slot if it holds it alone. */
static __always_inline void traced_slot_remove(__u32 tgid) { traced_slot_rewrite(tgid, 0, 1); }

/* tgid (traced) may now be in the map behind bit `may`: marked before the
 * entry is made, so no reader skips a lookup that would find it. */
static __always_inline void traced_slot_mark(__u32 tgid, __u64 may) {
  traced_slot_rewrite(tgid, may, 0);
}

/* May traced process tgid be in the map behind bit `may`? Yes unless it
 * holds its slot alone without that bit. */
static __always_inline int process_may(__u32 tgid, __u64 may) {
  __u64 value = *traced_slot(tgid);
  return !slot_held_by(value, tgid) || (value & may);
}

static __always_inline int is_traced(__u32 tgid) {
  if (tgid == agent_tgid) return 0;
  __u64 slot = *traced_slot(tgid);
  if (slot_held_by(slot, tgid)) return 1;
  if (slot != WEFT_TRACED_SLOT_SHARED) return 0;
  return bpf_map_lookup_elem(&traced_pids, &tgid) != 0;
}

#endif /* WEFT_BPF_CAPTURE_MAPS_BPF_H */
