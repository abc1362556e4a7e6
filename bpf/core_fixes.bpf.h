/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Every CO-RE shim weft needs, in one place. Each names the kernel change it
 * papers over so it can be dropped when the oldest supported kernel moves.
 */
#ifndef WEFT_BPF_CORE_FIXES_BPF_H
#define WEFT_BPF_CORE_FIXES_BPF_H

#include "vmlinux.h"
#include <bpf/bpf_core_read.h>

/* sk_protocol became a plain u16 in 5.6 (commit bf9765145b85, "sock: Make
 * sk_protocol a 16-bit value"); before it was a bitfield. The bitfield read
 * handles both. */
static __always_inline __u16 weft_sk_protocol(const struct sock *sk) {
  return (__u16)BPF_CORE_READ_BITFIELD_PROBED(sk, sk_protocol);
}

static __always_inline __u16 weft_sk_type(const struct sock *sk) {
  return (__u16)BPF_CORE_READ_BITFIELD_PROBED(sk, sk_type);
}

/* iter_type values were renumbered when ITER_UBUF arrived (6.0, commit
 * fcb14cb1bdac, "new iov_iter flavour - ITER_UBUF"); resolve them from the
 * running kernel's BTF. */
static __always_inline int weft_iter_ubuf(void) {
  if (bpf_core_enum_value_exists(enum iter_type, ITER_UBUF))
    return bpf_core_enum_value(enum iter_type, ITER_UBUF);
  return -1;
}

static __always_inline int weft_iter_iovec(void) {
  return bpf_core_enum_value(enum iter_type, ITER_IOVEC);
}

#endif /* WEFT_BPF_CORE_FIXES_BPF_H */
