/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Python asyncio contexts (ABI and rationale: py_async.h).
 *
 * Included by capture.bpf.c after the shared maps. emit_data() stamps each
 * egress event of a CPython process in `py_processes` with the sending
 * thread's current contextvars.Context; the uprobe below reports each context
 * the asyncio module copies, with the context it was copied from.
 */
#ifndef WEFT_PY_ASYNC_BPF_H
#define WEFT_PY_ASYNC_BPF_H

#include "capture.h"
#include "py_async.h"

struct {
  __uint(type, BPF_MAP_TYPE_HASH);
  __uint(max_entries, 4096);
  __type(key, __u32);
  __type(value, struct weft_py_process);
} py_processes SEC(".maps");

static __always_inline __u64 py_read_pointer(__u64 address) {
  __u64 value = 0;
  if (bpf_probe_read_user(&value, sizeof(value), (const void *)address) != 0) return 0;
  return value;
}

/* The thread `tid`'s current context. The thread usually sends with the GIL
 * released, so _PyRuntime's current thread state is not its own: walk the
 * interpreter's thread states for the one with this native thread id. */
static __noinline __u64 py_thread_context(const struct weft_py_process *py, __u32 tid) {
  if (!py) return 0;
  __u64 interp = py_read_pointer(py->runtime_addr + py->interpreters_head);
  if (!interp) return 0;
  __u64 ts = py_read_pointer(interp + py->threads_head);
  for (int i = 0; i < WEFT_PY_MAX_THREADS; i++) {
    if (!ts) return 0;
    if ((__u32)py_read_pointer(ts + py->tstate_native_tid) == tid)
      return py_read_pointer(ts + py->tstate_context);
    ts = py_read_pointer(ts + py->tstate_next);
  }
  return 0;
}

/* Set by the agent once it enables a process: until then every other
 * process's server sends skip the lookup below. */
__u32 py_processes_present = 0;

static __always_inline __u64 py_current_context(__u32 tgid, __u32 tid) {
  if (!py_processes_present || !process_may(tgid, WEFT_SLOT_MAY_PY)) return 0;
  const struct weft_py_process *py = bpf_map_lookup_elem(&py_processes, &tgid);
  return py ? py_thread_context(py, tid) : 0;
}

/* The instruction after a `call PyContext_CopyCurrent` in the _asyncio module
 * (a Task being created, or a done-callback without a context): RAX holds the
 * copy. The GIL is held, so _PyRuntime's current thread state is this
 * thread's, and its context is the one just copied. Probing these call sites
 * rather than the function's return keeps the trap off the interpreter's own
 * copies (one per loop.call_soon), which are many and name no task. */
SEC("uprobe")
int BPF_KPROBE(weft_py_context_copied) {
  __u64 copy = PT_REGS_RC(ctx);
  if (!copy) return 0;
  __u64 pid_tgid = bpf_get_current_pid_tgid();
  __u32 tgid = pid_tgid >> 32;
  const struct weft_py_process *py = bpf_map_lookup_elem(&py_processes, &tgid);
  if (!py) return 0;
  __u64 ts = py_read_pointer(py->runtime_addr + py->tstate_current);
  if (!ts) return 0;
  __u64 parent = py_read_pointer(ts + py->tstate_context);
  struct weft_async_context_event *ev = bpf_ringbuf_reserve(&events, sizeof(*ev), 0);
  if (!ev) {
    stat_add(WEFT_STAT_LOST, 1);
    return 0;
  }
  ev->header.timestamp_ns = bpf_ktime_get_ns();
  ev->header.tgid = tgid;
  ev->header.tid = (__u32)pid_tgid;
  ev->header.kind = WEFT_EVENT_ASYNC_CONTEXT;
  __builtin_memset(ev->header._pad, 0, sizeof(ev->header._pad));
  ev->parent = parent;
  ev->child = copy;
  bpf_ringbuf_submit(ev, wakeup_flags());
  stat_add(WEFT_STAT_EVENTS, 1);
  return 0;
}

#endif /* WEFT_PY_ASYNC_BPF_H */
