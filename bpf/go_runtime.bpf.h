/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Goroutine-aware trace context for Go programs (docs/parent-links.md).
 *
 * Go runs many goroutines on a few OS threads and moves them between
 * threads, so a thread says nothing about which request a send belongs to.
 * The goroutine does: its g pointer is in thread-local storage (g_tls_offset
 * bytes from the thread's FS base on linux/amd64) whenever Go code or a
 * syscall of that goroutine runs on the thread.
 *
 * - A SERVER context is kept per goroutine (the one that read the request),
 *   besides the per-thread one, until that goroutine writes the response.
 * - A goroutine created while its parent holds a context inherits it:
 *   runtime.newproc.func1 calls newproc1(fn, callergp, pc) and then
 *   runqput(pp, newg, next); uprobes on those two call instructions see
 *   the creator and the new g in RBX.
 * - net/http's client hands the request to another goroutine (the
 *   connection's writeLoop), which writes it. Uprobes on calls (never
 *   uretprobes: Go moves stacks) bridge the two: the call of
 *   (*Transport).roundTrip(t, req) in RoundTrip, on the caller's goroutine,
 *   maps req -> the caller's context; the call of (*Request).write(req, ...)
 *   in writeLoop, on the writer's goroutine, marks the next request start it
 *   sends as that context's child.
 * Every probe sits on a `call rel32`, which the kernel emulates (one trap,
 * no single-step); the callee's register arguments are in place there.
 * Only the handoff (or the goroutine's own SERVER context) parents a CLIENT
 * span in a Go process: inherited contexts of helper goroutines (writeLoop,
 * dialers) never do. The agent attaches the uprobes per binary file and
 * fills go_processes; everything here is a no-op for other processes.
 */
#ifndef WEFT_BPF_GO_RUNTIME_BPF_H
#define WEFT_BPF_GO_RUNTIME_BPF_H

#include "vmlinux.h"
#include <bpf/bpf_core_read.h>
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_tracing.h>

#include "capture.h"
#include "capture_maps.bpf.h"
#include "sock_io.bpf.h"

/* Go processes with runtime uprobes attached (key: tgid), set by the agent. */
struct {
  __uint(type, BPF_MAP_TYPE_HASH);
  __uint(max_entries, 16384);
  __type(key, __u32);
  __type(value, struct weft_go_process);
} go_processes SEC(".maps");

/* A goroutine or a Go object (a *http.Request) of one process. */
struct go_key {
  __u32 tgid;
  __u32 _pad;
  __u64 addr;
};

/* A goroutine's SERVER context: its own (it read the request) or inherited
 * from the goroutine that created it. */
struct goroutine_context {
  struct weft_trace_context ctx;
  __u64 conn_id;  /* connection the request came on (own contexts) */
  __u64 owner;    /* the g that read the request */
  __u8 inherited; /* 1: copied at creation; never parents a send by itself */
  __u8 _pad[7];
};

/* LRU: a goroutine that exits keeps its entry until its g is reused (every
 * creation overwrites the new g's entry) or it ages out. */
struct {
  __uint(type, BPF_MAP_TYPE_LRU_HASH);
  __uint(max_entries, 65536);
  __type(key, struct go_key);
  __type(value, struct goroutine_context);
} goroutine_contexts SEC(".maps");

/* net/http requests between Transport.roundTrip and Request.write (key:
 * the *Request): the caller goroutine's context. */
struct {
  __uint(type, BPF_MAP_TYPE_LRU_HASH);
  __uint(max_entries, 65536);
  __type(key, struct go_key);
  __type(value, struct weft_trace_context);
} go_request_contexts SEC(".maps");

/* Goroutines inside Request.write (key: g): the parent of the next request
 * start they send. */
struct {
  __uint(type, BPF_MAP_TYPE_LRU_HASH);
  __uint(max_entries, 65536);
  __type(key, struct go_key);
  __type(value, struct weft_trace_context);
} goroutine_sends SEC(".maps");

/* Threads between the two calls in newproc.func1 (key: tid): the creating
 * goroutine. Both run on the system stack, which is never
 * preempted, so the thread identifies the creation. */
struct {
  __uint(type, BPF_MAP_TYPE_HASH);
  __uint(max_entries, 16384);
  __type(key, __u32);
  __type(value, __u64);
} goroutine_creations SEC(".maps");

static __always_inline int is_go_process(__u32 tgid) {
  return process_may(tgid, WEFT_SLOT_MAY_GO) && bpf_map_lookup_elem(&go_processes, &tgid) != 0;
}

/* The g running on the current thread of a Go process, or 0 (not Go, or the
 * TLS slot cannot be read). Valid in syscalls and tracepoints of the task
 * too: Go sets FS once per thread (arch_prctl), so thread.fsbase is current. */
static __always_inline __u64 current_goroutine(__u32 tgid) {
  if (!process_may(tgid, WEFT_SLOT_MAY_GO)) return 0;
  struct weft_go_process *go = bpf_map_lookup_elem(&go_processes, &tgid);
  if (!go) return 0;
  struct task_struct *task = (struct task_struct *)bpf_get_current_task();
  __u64 fsbase = BPF_CORE_READ(task, thread.fsbase);
  if (!fsbase) return 0;
  __u64 g = 0;
  if (bpf_probe_read_user(&g, sizeof(g), (const void *)(fsbase + go->g_tls_offset))) return 0;
  return g;
}

/* A goroutine read the start of a request: the SERVER context is its own. */
static __always_inline void go_start_server_context(__u32 tgid, __u64 conn_id,
                                                    const struct weft_trace_context *ctx) {
  __u64 g = current_goroutine(tgid);
  if (!g) return;
  struct go_key key = {.tgid = tgid, .addr = g};
  struct goroutine_context own = {};
  own.ctx = *ctx;
  own.ctx.starts_span = 0;
  own.conn_id = conn_id;
  own.owner = g;
  bpf_map_update_elem(&goroutine_contexts, &key, &own, BPF_ANY);
}

/* A goroutine writes the start of a response on conn_id: its own SERVER
 * context for that connection ends. */
static __always_inline void go_end_server_context(__u32 tgid, __u64 conn_id) {
  __u64 g = current_goroutine(tgid);
  if (!g) return;
  struct go_key key = {.tgid = tgid, .addr = g};
  struct goroutine_context *own = bpf_map_lookup_elem(&goroutine_contexts, &key);
  if (own && !own->inherited && own->conn_id == conn_id)
    bpf_map_delete_elem(&goroutine_contexts, &key);
}

/* The parent of a request start the current goroutine sends: the handoff
 * from Request.write, else the goroutine's own SERVER context. 1 when found
 * (parent in *parent); the handoff is used once. */
static __always_inline int go_client_parent(__u32 tgid, struct weft_trace_context *parent) {
  __u64 g = current_goroutine(tgid);
  if (!g) return 0;
  struct go_key key = {.tgid = tgid, .addr = g};
  struct weft_trace_context *handed = bpf_map_lookup_elem(&goroutine_sends, &key);
  if (handed) {
    copy_context(parent, handed);
    bpf_map_delete_elem(&goroutine_sends, &key);
    return 1;
  }
  struct goroutine_context *own = bpf_map_lookup_elem(&goroutine_contexts, &key);
  if (own && !own->inherited) {
    *parent = own->ctx;
    return 1;
  }
  return 0;
}

/* ---- a request's first byte read alone ------------------------------------
 * Go's HTTP server keeps a one-byte read pending while a handler runs
 * (connReader.backgroundRead). When the next request on a keep-alive
 * connection arrives before that read is cancelled, it takes the request's
 * first byte alone and the next read the rest, which does not start with a
 * method: no SERVER context, no peer link. Such a byte is held back (the
 * read reports nothing) and put in front of the next read on the connection,
 * so the request starts whole in one event. Only on the serving side, right
 * after it answered (a client sends the next request after the response), and
 * only a letter that starts a method; a held byte is lost only if the peer
 * never sends another, i.e. with a request that could not be parsed anyway. */

static __always_inline int is_method_initial(__u8 c) {
  return c == 'G' || c == 'P' || c == 'H' || c == 'D' || c == 'O' || c == 'C' || c == 'T';
}

/* 1 when the call's single byte was held back. */
static __always_inline int hold_first_byte(struct conn_state *cs, const struct io_call *call,
                                           const __u8 *d, __u32 captured) {
  if (!cs || call->direction != WEFT_DIR_INGRESS || call->len != 1 || captured != 1) return 0;
  if (cs->role == WEFT_ROLE_CLIENT || !cs->answered || !is_method_initial(d[0])) return 0;
  cs->held_byte = d[0];
  cs->held_seq = call->seq;
  cs->has_held_byte = 1;
  cs->bytes_received += 1;
  return 1;
}

/* Puts a held byte at d[0] when this read continues it; returns how many
 * bytes it put there (0 or 1). A held byte that does not continue is dropped. */
static __always_inline __u32 take_held_first_byte(struct conn_state *cs,
                                                  const struct io_call *call, __u8 *d) {
  if (!cs || !cs->has_held_byte || call->direction != WEFT_DIR_INGRESS) return 0;
  cs->has_held_byte = 0;
  if (cs->held_seq + 1 != call->seq) return 0;
  d[0] = cs->held_byte;
  return 1;
}

/* ---- uprobes on the Go runtime and net/http (attached per binary) -------- */

/* `call runtime.newproc1(fn *funcval, callergp *g, callerpc uintptr) *g` */
SEC("uprobe")
int BPF_KPROBE(weft_go_newproc1_call) {
  __u64 pid_tgid = bpf_get_current_pid_tgid();
  __u32 tgid = pid_tgid >> 32;
  if (!is_traced(tgid) || !is_go_process(tgid)) return 0;
  __u32 tid = (__u32)pid_tgid;
  __u64 parent = ctx->bx;
  bpf_map_update_elem(&goroutine_creations, &tid, &parent, BPF_ANY);
  return 0;
}

/* `call runtime.runqput(pp *p, gp *g, next bool)` right after, gp = newg. */
SEC("uprobe")
int BPF_KPROBE(weft_go_runqput_call) {
  __u64 pid_tgid = bpf_get_current_pid_tgid();
  __u32 tgid = pid_tgid >> 32;
  __u32 tid = (__u32)pid_tgid;
  __u64 *creator = bpf_map_lookup_elem(&goroutine_creations, &tid);
  if (!creator) return 0;
  struct go_key parent_key = {.tgid = tgid, .addr = *creator};
  bpf_map_delete_elem(&goroutine_creations, &tid);
  struct go_key child_key = {.tgid = tgid, .addr = ctx->bx};
  if (!child_key.addr) return 0;
  /* A reused g must not send with a handoff its previous goroutine left. */
  bpf_map_delete_elem(&goroutine_sends, &child_key);
  struct goroutine_context *parent = bpf_map_lookup_elem(&goroutine_contexts, &parent_key);
  if (!parent) {
    /* The g may be reused from a goroutine that exited with a context. */
    bpf_map_delete_elem(&goroutine_contexts, &child_key);
    return 0;
  }
  struct goroutine_context child = *parent;
  child.inherited = 1;
  bpf_map_update_elem(&goroutine_contexts, &child_key, &child, BPF_ANY);
  return 0;
}

/* `call net/http.(*Transport).roundTrip(t *Transport, req *Request)` in
 * RoundTrip: on the goroutine that asked for the request. */
SEC("uprobe")
int BPF_KPROBE(weft_go_round_trip) {
  __u32 tgid = bpf_get_current_pid_tgid() >> 32;
  if (!is_traced(tgid)) return 0;
  __u64 g = current_goroutine(tgid);
  if (!g) return 0;
  struct go_key request = {.tgid = tgid, .addr = ctx->bx};
  struct go_key key = {.tgid = tgid, .addr = g};
  struct goroutine_context *caller = bpf_map_lookup_elem(&goroutine_contexts, &key);
  if (caller && caller->inherited) {
    /* Only while the request is open: a goroutine that outlives it (a
     * background worker started lazily during a request) is not its child. */
    struct go_key owner_key = {.tgid = tgid, .addr = caller->owner};
    struct goroutine_context *owner = bpf_map_lookup_elem(&goroutine_contexts, &owner_key);
    __u64 open_span = 0, inherited_span = 0;
    if (owner && !owner->inherited) __builtin_memcpy(&open_span, owner->ctx.span_id, 8);
    __builtin_memcpy(&inherited_span, caller->ctx.span_id, 8);
    if (open_span != inherited_span) caller = 0;
  }
  if (caller) {
    bpf_map_update_elem(&go_request_contexts, &request, &caller->ctx, BPF_ANY);
  } else {
    /* A request at the address of an older one must not take its context. */
    bpf_map_delete_elem(&go_request_contexts, &request);
  }
  return 0;
}

/* `call net/http.(*Request).write(r *Request, w io.Writer, ...)` in
 * persistConn.writeLoop: on the goroutine that writes the request. */
SEC("uprobe")
int BPF_KPROBE(weft_go_request_write) {
  __u32 tgid = bpf_get_current_pid_tgid() >> 32;
  if (!is_traced(tgid)) return 0;
  __u64 g = current_goroutine(tgid);
  if (!g) return 0;
  struct go_key request = {.tgid = tgid, .addr = ctx->ax};
  struct go_key key = {.tgid = tgid, .addr = g};
  struct weft_trace_context *caller = bpf_map_lookup_elem(&go_request_contexts, &request);
  if (caller) {
    struct weft_trace_context handed = *caller;
    bpf_map_delete_elem(&go_request_contexts, &request);
    bpf_map_update_elem(&goroutine_sends, &key, &handed, BPF_ANY);
  } else {
    bpf_map_delete_elem(&goroutine_sends, &key);
  }
  return 0;
}

/* A process that execs is no longer the Go program it was: what FS base - 8
 * holds now means nothing, so it gets no goroutine contexts until the agent
 * has looked at the new executable (within its rescan period). */
SEC("tp_btf/sched_process_exec")
int BPF_PROG(weft_go_process_exec, struct task_struct *task) {
  __u32 tgid = BPF_CORE_READ(task, tgid);
  bpf_map_delete_elem(&go_processes, &tgid);
  return 0;
}

#endif /* WEFT_BPF_GO_RUNTIME_BPF_H */
