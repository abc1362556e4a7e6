/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Kernel/user ABI of Node.js request links (node_async.bpf.h).
 *
 * A Node.js process runs every request on one thread, in callbacks and
 * promise continuations that no system call tells apart. Only the program's
 * own async context knows which request a call is made for, so weft (when
 * asked: `--node-links inspector`) injects a small script through the
 * Node.js inspector (agent/nodejs/weft_node_agent.js) that keeps the request
 * in an AsyncLocalStorage and says, with one failing access(2) on a path
 * under /dev/null, two things:
 *
 *   "/dev/null/weft/s/<token>/<fd>"  a request started on socket fd; call it
 *                                    <token> (decimal, per process, > 0)
 *   "/dev/null/weft/c/<token>/<fd>"  what socket fd writes next is sent for
 *                                    request <token> (0: for no request)
 *
 * A uprobe on libuv's uv_fs_access reads the path. The first message files
 * the socket's current SERVER context under (process, token); the second
 * makes it the parent of every CLIENT context decided on socket fd until the
 * next message for that socket. The path can never exist (/dev/null is not a
 * directory), so the call fails with ENOTDIR and touches no file.
 */
#ifndef WEFT_BPF_NODE_ASYNC_H
#define WEFT_BPF_NODE_ASYNC_H

#ifndef __VMLINUX_H__
#include <linux/types.h>
#endif

#define WEFT_NODE_SIGNAL_PREFIX "/dev/null/weft/"
#define WEFT_NODE_SIGNAL_PREFIX_LEN 15
/* Longest path the probe reads: prefix, kind, '/', 16 + 1 + 10 digits. */
#define WEFT_NODE_SIGNAL_MAX 48

#define WEFT_NODE_SIGNAL_REQUEST 's'
#define WEFT_NODE_SIGNAL_CLIENT 'c'

/* Key of the `node_requests` map: a request a Node.js process named. */
struct weft_node_request_key {
  __u32 tgid;
  __u32 _pad;
  __u64 token;
};

#endif /* WEFT_BPF_NODE_ASYNC_H */
