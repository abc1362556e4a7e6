/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Socket and syscall plumbing shared by both capture backends: which syscall
 * moved the bytes and where its buffers are, the connection tuple and TCP
 * sequence numbers, fd -> socket, and copying user buffers (plain, iovec,
 * msghdr, mmsghdr) into the staging area.
 */
#ifndef WEFT_BPF_SOCK_IO_BPF_H
#define WEFT_BPF_SOCK_IO_BPF_H

#include "vmlinux.h"
#include <bpf/bpf_core_read.h>
#include <bpf/bpf_endian.h>
#include <bpf/bpf_helpers.h>

#include "capture.h"
#include "capture_maps.bpf.h"
#include "core_fixes.bpf.h"

#define WEFT_AF_INET 2
#define WEFT_AF_INET6 10
#define WEFT_IPPROTO_TCP 6
#define WEFT_SOCK_STREAM 1
#define WEFT_MSG_PEEK 2
#define WEFT_S_IFMT 00170000
#define WEFT_S_IFSOCK 0140000

/* Syscall numbers by architecture. */
#if defined(__TARGET_ARCH_x86)
#define NR_read 0
#define NR_write 1
#define NR_readv 19
#define NR_writev 20
#define NR_sendfile 40
#define NR_connect 42
#define NR_accept 43
#define NR_sendto 44
#define NR_recvfrom 45
#define NR_sendmsg 46
#define NR_recvmsg 47
#define NR_splice 275
#define NR_accept4 288
#define NR_recvmmsg 299
#define NR_sendmmsg 307
#define NR_io_uring_enter 426
#define SYSCALL_NR(regs) BPF_CORE_READ(regs, orig_ax)
#define SYSCALL_ARG0(regs) BPF_CORE_READ(regs, di)
#define SYSCALL_ARG1(regs) BPF_CORE_READ(regs, si)
#define SYSCALL_ARG2(regs) BPF_CORE_READ(regs, dx)
#define SYSCALL_ARG3(regs) BPF_CORE_READ(regs, r10)
/* The same, from a BTF pointer (bpf_task_pt_regs): plain loads, no helper. */
#define SYSCALL_NR_BTF(regs) ((regs)->orig_ax)
#define SYSCALL_ARG0_BTF(regs) ((regs)->di)
#define SYSCALL_ARG1_BTF(regs) ((regs)->si)
#define SYSCALL_ARG2_BTF(regs) ((regs)->dx)
#elif defined(__TARGET_ARCH_arm64)
#define NR_read 63
#define NR_write 64
#define NR_readv 65
#define NR_writev 66
#define NR_sendfile 71
#define NR_splice 76
#define NR_accept 202
#define NR_connect 203
#define NR_sendto 206
#define NR_recvfrom 207
#define NR_sendmsg 211
#define NR_recvmsg 212
#define NR_accept4 242
#define NR_recvmmsg 243
#define NR_sendmmsg 269
#define NR_io_uring_enter 426
#define SYSCALL_NR(regs) BPF_CORE_READ(regs, syscallno)
#define SYSCALL_ARG0(regs) BPF_CORE_READ(regs, orig_x0)
#define SYSCALL_ARG1(regs) BPF_CORE_READ(regs, regs[1])
#define SYSCALL_ARG2(regs) BPF_CORE_READ(regs, regs[2])
#define SYSCALL_ARG3(regs) BPF_CORE_READ(regs, regs[3])
#define SYSCALL_NR_BTF(regs) ((regs)->syscallno)
#define SYSCALL_ARG0_BTF(regs) ((regs)->orig_x0)
#define SYSCALL_ARG1_BTF(regs) ((regs)->regs[1])
#define SYSCALL_ARG2_BTF(regs) ((regs)->regs[2])
#else
#error "weft: unsupported architecture"
#endif

enum buffer_kind {
  BUF_NONE = 0,    /* size only */
  BUF_PLAIN = 1,   /* (buf, len) */
  BUF_IOVEC = 2,   /* (iovec *, iovcnt) */
  BUF_MSGHDR = 3,  /* user_msghdr * */
  BUF_MMSGHDR = 4, /* mmsghdr *, vlen */
};

/* One socket call (or one message of sendmmsg/recvmmsg) and everything the
 * data event needs about it. Passed by pointer to the emit subprogram, which
 * is verified once (BPF calls take at most five arguments). */
struct io_call {
  __u64 sk;       /* struct sock * */
  __u64 conn_id;
  __u64 pid_tgid;
  __u64 buf;      /* buffer, iovec *, user_msghdr * or mmsghdr * */
  __u64 count;    /* length, iovcnt or vlen */
  __u32 len;      /* bytes the call moved on the socket */
  __u32 seq;      /* TCP sequence number of the first of them */
  __s32 fd;
  __s32 msg_index; /* mmsghdr entry; -1: the entry still in flight */
  __u8 source;    /* enum weft_source */
  __u8 kind;      /* enum buffer_kind */
  __u8 direction; /* enum weft_direction */
  __u8 known;     /* 1: a recognised syscall */
  __u32 _pad;
};

/* Per-CPU home of the call being reported, so it takes no room on the
 * entry program's stack: the entry program, emit_data and its callees share
 * one 512-byte stack budget. Tracepoint programs do not nest on a CPU. */
struct {
  __uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
  __uint(max_entries, 1);
  __type(key, __u32);
  __type(value, struct io_call);
} io_calls SEC(".maps");

/* This CPU's io_call, zeroed; NULL only if the map is missing. */
static __always_inline struct io_call *fresh_io_call(void) {
  __u32 zero = 0;
  struct io_call *call = bpf_map_lookup_elem(&io_calls, &zero);
  if (call) __builtin_memset(call, 0, sizeof(*call));
  return call;
}

/* Maps a syscall and its first three arguments to an io_call. */
static __always_inline void classify_syscall(__s64 nr, __u64 a0, __u64 a1, __u64 a2,
                                             struct io_call *call) {
  call->fd = (__s32)a0;
  call->buf = a1;
  call->count = a2;
  call->known = 1;
  call->kind = BUF_PLAIN;
  switch (nr) {
    case NR_read:
      call->source = WEFT_SRC_READ;
      call->direction = WEFT_DIR_INGRESS;
      break;
    case NR_write:
      call->source = WEFT_SRC_WRITE;
      call->direction = WEFT_DIR_EGRESS;
      break;
    case NR_recvfrom:
      call->source = WEFT_SRC_RECVFROM;
      call->direction = WEFT_DIR_INGRESS;
      break;
    case NR_sendto:
      call->source = WEFT_SRC_SENDTO;
      call->direction = WEFT_DIR_EGRESS;
      break;
    case NR_readv:
      call->source = WEFT_SRC_READV;
      call->direction = WEFT_DIR_INGRESS;
      call->kind = BUF_IOVEC;
      break;
    case NR_writev:
      call->source = WEFT_SRC_WRITEV;
      call->direction = WEFT_DIR_EGRESS;
      call->kind = BUF_IOVEC;
      break;
    case NR_recvmsg:
      call->source = WEFT_SRC_RECVMSG;
      call->direction = WEFT_DIR_INGRESS;
      call->kind = BUF_MSGHDR;
      break;
    case NR_sendmsg:
      call->source = WEFT_SRC_SENDMSG;
      call->direction = WEFT_DIR_EGRESS;
      call->kind = BUF_MSGHDR;
      break;
    case NR_recvmmsg:
      call->source = WEFT_SRC_RECVMMSG;
      call->direction = WEFT_DIR_INGRESS;
      call->kind = BUF_MMSGHDR;
      break;
    case NR_sendmmsg:
      call->source = WEFT_SRC_SENDMMSG;
      call->direction = WEFT_DIR_EGRESS;
      call->kind = BUF_MMSGHDR;
      break;
    case NR_sendfile:
      call->source = WEFT_SRC_SENDFILE;
      call->direction = WEFT_DIR_EGRESS;
      call->kind = BUF_NONE;
      break;
    case NR_splice:
      call->source = WEFT_SRC_SPLICE;
      call->kind = BUF_NONE;
      call->fd = -1;
      break;
    case NR_io_uring_enter:
      call->source = WEFT_SRC_IO_URING;
      call->kind = BUF_NONE;
      call->fd = -1;
      break;
    default:
      call->source = WEFT_SRC_UNKNOWN;
      call->kind = BUF_NONE;
      call->fd = -1;
      call->known = 0;
      break;
  }
}

/* Receive flags of a recv-family syscall (MSG_PEEK reads are not data). */
static __always_inline __u64 recv_flags(__s64 nr, const __u64 *arg) {
  switch (nr) {
    case NR_recvfrom:
    case NR_recvmmsg:
      return arg[3];
    case NR_recvmsg:
      return arg[2];
    default:
      return 0;
  }
}

/* The struct sock behind fd in task's file table, or NULL when fd is not a
 * socket. */
static __always_inline struct sock *sock_from_fd(struct task_struct *task, __s32 fd) {
  if (fd < 0) return 0;
  struct files_struct *files = BPF_CORE_READ(task, files);
  if (!files) return 0;
  struct fdtable *fdt = BPF_CORE_READ(files, fdt);
  if (!fdt) return 0;
  unsigned int max_fds = BPF_CORE_READ(fdt, max_fds);
  if ((unsigned int)fd >= max_fds) return 0;
  struct file **fds = BPF_CORE_READ(fdt, fd);
  struct file *file = 0;
  if (bpf_probe_read_kernel(&file, sizeof(file), &fds[fd]) || !file) return 0;
  umode_t mode = BPF_CORE_READ(file, f_inode, i_mode);
  if ((mode & WEFT_S_IFMT) != WEFT_S_IFSOCK) return 0;
  struct socket *socket = BPF_CORE_READ(file, private_data);
  if (!socket) return 0;
  return BPF_CORE_READ(socket, sk);
}

/* TCP over IPv4/IPv6 only. */
static __always_inline int is_inet_tcp(const struct sock *sk) {
  __u16 family = BPF_CORE_READ(sk, __sk_common.skc_family);
  if (family != WEFT_AF_INET && family != WEFT_AF_INET6) return 0;
  return weft_sk_protocol(sk) == WEFT_IPPROTO_TCP && weft_sk_type(sk) == WEFT_SOCK_STREAM;
}

/* ---- BTF pointers (tp_btf arguments, bpf_get_current_task_btf) -----------
 * Fields behind them are read with plain loads; a BPF_CORE_READ is a helper
 * call (bpf_probe_read_kernel) costing about as much as the rest of a
 * filter. Only the socket tracepoint backend (kernel >= 6.3, where
 * sk_protocol and sk_type are plain u16) uses these. */

static __always_inline int is_inet_tcp_btf(const struct sock *sk) {
  __u16 family = sk->__sk_common.skc_family;
  if (family != WEFT_AF_INET && family != WEFT_AF_INET6) return 0;
  return sk->sk_protocol == WEFT_IPPROTO_TCP && sk->sk_type == WEFT_SOCK_STREAM;
}

/* Is `fd` in task's file table the file of socket `sk`? Comparing with the
 * socket's own file (sk->sk_socket->file) needs one probe read (the fd array
 * slot) instead of walking file -> inode -> socket -> sock. */
static __always_inline int fd_holds_sock(struct task_struct *task, __s32 fd,
                                         const struct sock *sk) {
  if (fd < 0) return 0;
  struct socket *socket = sk->sk_socket;
  if (!socket) return 0;
  struct file *expected = socket->file;
  struct files_struct *files = task->files;
  if (!files) return 0;
  struct fdtable *fdt = files->fdt;
  if (!fdt) return 0;
  if ((unsigned int)fd >= fdt->max_fds) return 0;
  struct file **fds = fdt->fd;
  struct file *file = 0;
  if (bpf_probe_read_kernel(&file, sizeof(file), &fds[fd])) return 0;
  return file && (__u64)file == (__u64)expected;
}

static __always_inline void read_tuple(const struct sock *sk, struct weft_tuple *t) {
  __u16 family = BPF_CORE_READ(sk, __sk_common.skc_family);
  t->family = family;
  t->local_port = BPF_CORE_READ(sk, __sk_common.skc_num);
  t->remote_port = bpf_ntohs(BPF_CORE_READ(sk, __sk_common.skc_dport));
  if (family == WEFT_AF_INET) {
    __u32 l = BPF_CORE_READ(sk, __sk_common.skc_rcv_saddr);
    __u32 r = BPF_CORE_READ(sk, __sk_common.skc_daddr);
    __builtin_memcpy(t->local_addr, &l, 4);
    __builtin_memcpy(t->remote_addr, &r, 4);
  } else {
    bpf_core_read(t->local_addr, sizeof(t->local_addr), &sk->__sk_common.skc_v6_rcv_saddr);
    bpf_core_read(t->remote_addr, sizeof(t->remote_addr), &sk->__sk_common.skc_v6_daddr);
  }
}

/* Sequence number of the first of `len` bytes just sent / received: the
 * tracepoints fire after the copy, when write_seq / copied_seq have moved. */
static __always_inline __u32 stream_seq_after(const struct sock *sk, __u8 direction, __u32 len) {
  const struct tcp_sock *tp = (const struct tcp_sock *)sk;
  if (direction == WEFT_DIR_EGRESS) return BPF_CORE_READ(tp, write_seq) - len;
  return BPF_CORE_READ(tp, copied_seq) - len;
}

/* Set in a copy's result when it stopped at its segment limit with more
 * bytes wanted and more segments left. */
#define WEFT_COPY_MORE (1U << 30)

/* Copies up to `want` bytes spread over the first `segments` entries of a
 * user iovec array into dst. Returns bytes copied, | WEFT_COPY_MORE when the
 * segment limit stopped it. */
static __always_inline __u32 copy_iovecs(__u8 *dst, const struct iovec *iov, __u64 iovcnt,
                                         __u32 want, __u32 segments) {
  __u32 copied = 0;
  for (int i = 0; i < WEFT_MAX_IOV; i++) {
    if (i >= iovcnt || copied >= want) break;
    if (i >= segments) return copied | WEFT_COPY_MORE;
    struct iovec v;
    if (bpf_probe_read_user(&v, sizeof(v), &iov[i])) {
      stat_add(WEFT_STAT_READ_FAULTS, 1);
      break;
    }
    __u64 chunk = v.iov_len;
    if (chunk > want - copied) chunk = want - copied;
    if (chunk > WEFT_MAX_CAPTURE) chunk = WEFT_MAX_CAPTURE;
    __u32 off = copied & (WEFT_MAX_CAPTURE - 1);
    if (bpf_probe_read_user(dst + off, chunk, v.iov_base)) {
      stat_add(WEFT_STAT_READ_FAULTS, 1);
      break;
    }
    copied += chunk;
  }
  return copied;
}

/* For sendmmsg/recvmmsg the tracepoint fires once per message; the kernel
 * writes each finished message's msg_len before moving on, so the message in
 * flight is the first whose msg_len is still 0. */
static __always_inline int find_mmsg_in_flight(const struct mmsghdr *msgs, __u64 vlen) {
  for (int i = 0; i < WEFT_MAX_IOV; i++) {
    if (i >= vlen) return -1;
    unsigned int len = 0;
    if (bpf_probe_read_user(&len, sizeof(len), &msgs[i].msg_len)) return -1;
    if (len == 0) return i;
  }
  return -1;
}

/* Copies the call's first `want` bytes, from at most `segments` buffers,
 * into dst; returns bytes copied (see copy_iovecs). */
static __always_inline __u32 copy_call_bytes(__u8 *dst, const struct io_call *call, __u32 want,
                                             __u32 segments) {
  if (want > WEFT_MAX_CAPTURE) want = WEFT_MAX_CAPTURE;
  switch (call->kind) {
    case BUF_PLAIN:
      if (bpf_probe_read_user(dst, want, (void *)call->buf)) {
        stat_add(WEFT_STAT_READ_FAULTS, 1);
        return 0;
      }
      return want;
    case BUF_IOVEC:
      return copy_iovecs(dst, (const struct iovec *)call->buf, call->count, want, segments);
    case BUF_MSGHDR:
    case BUF_MMSGHDR: {
      const struct user_msghdr *mh = (const struct user_msghdr *)call->buf;
      if (call->kind == BUF_MMSGHDR) {
        int i = call->msg_index;
        if (i < 0) i = find_mmsg_in_flight((const struct mmsghdr *)call->buf, call->count);
        if (i < 0 || i >= WEFT_MAX_IOV) return 0;
        mh = &((const struct mmsghdr *)call->buf)[i].msg_hdr;
      }
      /* Only the two fields needed: the whole header would cost this
       * frame 56 bytes of the 512 the call chain may use. */
      struct iovec *iov = 0;
      __u64 iovlen = 0;
      if (bpf_probe_read_user(&iov, sizeof(iov), &mh->msg_iov) ||
          bpf_probe_read_user(&iovlen, sizeof(iovlen), &mh->msg_iovlen)) {
        stat_add(WEFT_STAT_READ_FAULTS, 1);
        return 0;
      }
      return copy_iovecs(dst, iov, iovlen, want, segments);
    }
    default:
      return 0;
  }
}

#endif /* WEFT_BPF_SOCK_IO_BPF_H */
