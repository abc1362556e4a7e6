/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Programs that do nothing but count: attached by weft-bench-uprobe-cost to
 * functions of its own, so that what a probed call costs is the kernel's
 * uprobe mechanism (trap, emulation or single step, return hijack), not
 * weft's BPF work. Names do not start with weft_, so the other benchmarks'
 * program accounting never counts them.
 */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>

char LICENSE[] SEC("license") = "GPL";

__u64 hits = 0;

SEC("uprobe")
int bench_uprobe_entry(void *ctx) {
  __sync_fetch_and_add(&hits, 1);
  return 0;
}

SEC("uretprobe")
int bench_uprobe_return(void *ctx) {
  __sync_fetch_and_add(&hits, 1);
  return 0;
}
