/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Kernel/user ABI of the Python asyncio context feature (py_async.bpf.h).
 *
 * An asyncio task runs every step inside its own contextvars.Context, which
 * CPython keeps in the running thread's PyThreadState. Reading that pointer
 * when a traced thread sends bytes tells which task sent them; uprobes where
 * the _asyncio module's calls to PyContext_CopyCurrent return (a task being
 * created) tell which context each new one was copied from. Userspace turns both into parent links
 * (agent/links). Offsets depend on the CPython version; the agent fills them
 * (agent/probes/py_async_probes.cc). tests/unit/events/abi_layout_test.cc
 * pins this layout.
 */
#ifndef WEFT_BPF_PY_ASYNC_H
#define WEFT_BPF_PY_ASYNC_H

#ifndef __VMLINUX_H__
#include <linux/types.h>
#endif

#include "capture.h"

/* Thread states walked at most per read (a loop thread plus executor pools). */
#define WEFT_PY_MAX_THREADS 32

/* Value of the `py_processes` map (key: tgid). */
struct weft_py_process {
  __u64 runtime_addr;         /* address of _PyRuntime in the process */
  __u16 interpreters_head;    /* _PyRuntimeState.interpreters.head */
  __u16 tstate_current;       /* _PyRuntimeState.gilstate.tstate_current */
  __u16 threads_head;         /* PyInterpreterState.threads.head */
  __u16 tstate_next;          /* PyThreadState.next */
  __u16 tstate_native_tid;    /* PyThreadState.native_thread_id */
  __u16 tstate_context;       /* PyThreadState.context */
  __u32 _pad;
};

/* WEFT_EVENT_ASYNC_CONTEXT: PyContext_CopyCurrent returned `child`, a copy
 * of `parent`, the context the thread was running in (both addresses). */
struct weft_async_context_event {
  struct weft_event_header header;
  __u64 parent;
  __u64 child;
};

#endif /* WEFT_BPF_PY_ASYNC_H */
