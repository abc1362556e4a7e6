/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Opt-in stage profiler (stage_profile.h): with WEFT_BPF_STAGE_PROFILE
 * defined, WEFT_STAGE(s) adds the time since the previous mark to stage s
 * in a per-CPU array; otherwise the marks compile to nothing. Marks read the
 * clock twice and cost tens of ns each: compare stages with each other and
 * with WEFT_STAGE_MARK_COST, not with an unprofiled build.
 */
#ifndef WEFT_BPF_STAGE_PROFILE_BPF_H
#define WEFT_BPF_STAGE_PROFILE_BPF_H

#include "vmlinux.h"
#include <bpf/bpf_helpers.h>

#include "stage_profile.h"

#ifdef WEFT_BPF_STAGE_PROFILE

struct weft_stage_slot {
  __u64 ns;
  __u64 runs;
};

struct {
  __uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
  __uint(max_entries, WEFT_STAGE_COUNT);
  __type(key, __u32);
  __type(value, struct weft_stage_slot);
} stage_profile SEC(".maps");

static __always_inline void weft_stage_start(void) {
  __u32 key = WEFT_STAGE_NONE;
  struct weft_stage_slot *last = bpf_map_lookup_elem(&stage_profile, &key);
  if (last) last->ns = bpf_ktime_get_ns();
}

static __always_inline void weft_stage_mark(__u32 stage) {
  __u64 now = bpf_ktime_get_ns();
  __u32 key = WEFT_STAGE_NONE;
  struct weft_stage_slot *last = bpf_map_lookup_elem(&stage_profile, &key);
  struct weft_stage_slot *slot = bpf_map_lookup_elem(&stage_profile, &stage);
  if (!last || !slot) return;
  slot->ns += now - last->ns;
  slot->runs++;
  /* Read again: the bookkeeping above is not the next stage's. */
  last->ns = bpf_ktime_get_ns();
}

#define WEFT_STAGE_START(first) \
  do {                          \
    weft_stage_start();         \
    weft_stage_mark(first);     \
  } while (0)
#define WEFT_STAGE(stage) weft_stage_mark(stage)

#else

#define WEFT_STAGE_START(first) \
  do {                          \
  } while (0)
#define WEFT_STAGE(stage) \
  do {                    \
  } while (0)

#endif

#endif /* WEFT_BPF_STAGE_PROFILE_BPF_H */
