/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Kernel/user ABI of Node.js request links (node_async.bpf.h).
 *
 * A Node.js process runs every request on one thread, in callbacks and
 * promise continuations that no system call tells apart. Only the program's
 * own async context knows which request a call is made for, so weft (when
 * asked: `--node-links inspector`) injects a small script through the
 * Node.js inspector (agent/nodejs/weft_node_agent.js) that keeps the request
 * in an AsyncLocalStorage and says, with one failing access(2) (existsSync)
 * on a path under /dev/null, which request each client socket is written
 * for, whenever that changes:
 *
 *   "/dev/null/weft/r/<token>/<in fd>/<fd>"  a request's first call: the
 *        request server socket <in fd> is reading is <token> (decimal, per
 *        process, > 0), and socket <fd> is now written for it
 *   "/dev/null/weft/c/<token>/<fd>"  socket <fd> is now written for request
 *        <token>, named before (0: for no request)
 *
 * A uprobe on libuv's uv_fs_access reads the path. The first message files
 * the server connection's current SERVER context under (process, token);
 * both make that context the parent of every CLIENT context decided on
 * socket <fd> until its next message. The path can never exist (/dev/null
 * is not a directory), so the call fails with ENOTDIR and touches no file.
 */
#ifndef WEFT_BPF_NODE_ASYNC_H
#define WEFT_BPF_NODE_ASYNC_H

#ifndef __VMLINUX_H__
#include <linux/types.h>
#endif

#define WEFT_NODE_SIGNAL_PREFIX "/dev/null/weft/"
#define WEFT_NODE_SIGNAL_PREFIX_LEN 15
/* Longest path the probe reads: prefix, kind, '/', then up to 17 + 1 + 10 +
 * 1 + 10 digits and slashes, and the NUL. */
#define WEFT_NODE_SIGNAL_MAX 64

#define WEFT_NODE_SIGNAL_REQUEST 'r' /* r/<token>/<in fd>/<fd> */
#define WEFT_NODE_SIGNAL_CLIENT 'c'  /* c/<token>/<fd> */

/* Key of the `node_requests` map: a request a Node.js process named. */
struct weft_node_request_key {
  __u32 tgid;
  __u32 _pad;
  __u64 token;
};

#endif /* WEFT_BPF_NODE_ASYNC_H */
