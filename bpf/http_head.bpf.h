/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Capture only what parsing needs: the header block of an HTTP/1.x message
 * whose body has a declared length, never the body (issue 5). The kernel
 * finds where the head ends and reads Content-Length; the body's bytes are
 * reported by size, and userspace skips them as a gap of known extent.
 * Messages with Transfer-Encoding (chunked framing lives in the body) or
 * without a head end in the first bytes are captured as before.
 */
#ifndef WEFT_BPF_HTTP_HEAD_BPF_H
#define WEFT_BPF_HTTP_HEAD_BPF_H

#include "vmlinux.h"
#include <bpf/bpf_helpers.h>

#include "capture.h"
#include "capture_maps.bpf.h"
#include "trace_context.bpf.h"

/* How much of a message start is read first to look for the head's end. */
#define WEFT_HEAD_PROBE 512
/* Content-Length digits parsed (larger values are not skipped). */
#define WEFT_LENGTH_DIGITS 15

struct head_scan {
  const __u8 *d;          /* the staging area */
  __u32 len;              /* valid bytes in it */
  __s32 end;              /* offset just past "\r\n\r\n", or -1 */
  __s32 length_at;        /* offset of the Content-Length value, or -1 */
  __s32 traceparent_nl;   /* the '\n' before the first traceparent header, or -1 */
  __u8 transfer_encoding; /* a Transfer-Encoding header: framing is in the body */
  __u8 _pad[3];
};

/* The Content-Length value at staged offset pos, ending before limit; -1 if
 * malformed. Only called from the global head_only_capture, so its loop is
 * verified once. */
static __always_inline __s64 parse_content_length(const __u8 *d, __u32 pos, __u32 limit) {
  for (int k = 0; k < 4 && pos < limit; k++) { /* optional whitespace */
    __u8 c = d[pos & (2 * WEFT_MAX_CAPTURE - 1)];
    if (c != ' ' && c != '\t') break;
    pos++;
  }
  __u64 value = 0;
  int digits = 0;
  for (int k = 0; k <= WEFT_LENGTH_DIGITS; k++) {
    if (pos + k >= limit) return -1; /* the value must end inside the head */
    __u8 c = d[(pos + k) & (2 * WEFT_MAX_CAPTURE - 1)];
    if (c < '0' || c > '9') break;
    value = value * 10 + (c - '0');
    digits++;
  }
  if (digits == 0 || digits > WEFT_LENGTH_DIGITS) return -1;
  return (__s64)value;
}

/* Words looked at per bpf_loop step: fewer callback calls per head. */
#define WEFT_HEAD_WORDS_PER_STEP 1

/* Index (0-7) of the lowest byte flagged in a mask of byte high bits: the
 * lowest flag is bit 8j+7; shifted down to 1 << 8j, the multiply moves byte
 * 7-j of the constant (which holds j) into the top byte. */
static __always_inline __u32 lowest_flagged_byte(__u64 flags) {
  __u64 lowest = flags & -flags;
  return (__u32)(((lowest >> 7) * 0x0001020304050607ULL) >> 56);
}

/* At a '\n' at staged offset nl: does the head end here, or does a header
 * that decides framing start on the next line? 1 when the scan is done. */
static __always_inline int scan_head_line(struct head_scan *scan, __u32 nl) {
  const __u8 *d = scan->d;
  __u32 next = nl + 1;
  /* "\r\n" right after this '\n': the head ends. */
  if (next + 1 < scan->len && d[next & (2 * WEFT_MAX_CAPTURE - 1)] == '\r' &&
      d[(next + 1) & (2 * WEFT_MAX_CAPTURE - 1)] == '\n') {
    scan->end = (__s32)(next + 2);
    return 1;
  }
  if (next + 16 > scan->len) return 0;
  const __u8 *h = d + (next & (WEFT_MAX_CAPTURE - 1));
  __u64 a = load_u64(h) | 0x2020202020202020ULL;
  if (a == WEFT_STR8('c', 'o', 'n', 't', 'e', 'n', 't', '-')) {
    __u64 b = load_u64(h + 8) | 0x2020202020202020ULL;
    if ((b & 0xffffffffffffffULL) == WEFT_STR8('l', 'e', 'n', 'g', 't', 'h', ':', 0))
      scan->length_at = (__s32)(next + 15);
  } else if (a == WEFT_STR8('t', 'r', 'a', 'n', 's', 'f', 'e', 'r')) {
    __u64 b = load_u64(h + 8) | 0x2020202020202020ULL;
    if (b == WEFT_STR8('-', 'e', 'n', 'c', 'o', 'd', 'i', 'n')) scan->transfer_encoding = 1;
  } else if (a == WEFT_STR8('t', 'r', 'a', 'c', 'e', 'p', 'a', 'r')) {
    if (scan->traceparent_nl < 0 && is_traceparent_name(h)) scan->traceparent_nl = (__s32)nl;
  }
  return 0;
}

/* bpf_loop callback over the staged head, WEFT_HEAD_WORDS_PER_STEP words a
 * step: only the '\n' bytes a word holds are visited (a zero-byte test
 * flags them, and rarely a byte after one: each flag is checked). */
static int scan_head_words(__u32 step, void *arg) {
  struct head_scan *scan = arg;
  const __u8 *d = scan->d;
  for (int w = 0; w < WEFT_HEAD_WORDS_PER_STEP; w++) {
    __u32 off = ((step * WEFT_HEAD_WORDS_PER_STEP + w) * 8) & (WEFT_MAX_CAPTURE - 1);
    if (off >= scan->len) return 1;
    __u64 x = load_u64(d + off) ^ 0x0a0a0a0a0a0a0a0aULL; /* '\n' bytes become 0 */
    __u64 flags = (x - WEFT_ONES) & ~x & WEFT_HIGHS;
    for (int k = 0; k < 8 && flags; k++) {
      __u32 nl = off + lowest_flagged_byte(flags);
      flags &= flags - 1;
      if (nl >= scan->len) return 1;
      if (d[nl] != '\n') continue;
      if (scan_head_line(scan, nl)) return 1;
    }
  }
  return 0;
}

/* Looks at the first `len` staged bytes of a message start. */
static __always_inline void scan_http_head(const __u8 *d, __u32 len, struct head_scan *scan) {
  __builtin_memset(scan, 0, sizeof(*scan));
  scan->d = d;
  scan->len = len;
  scan->end = -1;
  scan->length_at = -1;
  scan->traceparent_nl = -1;
  __u32 step_bytes = 8 * WEFT_HEAD_WORDS_PER_STEP;
  bpf_loop((len + step_bytes - 1) / step_bytes, scan_head_words, scan, 0);
}

/* Bytes of the head worth capturing when the body can be skipped, setting
 * the connection's body countdown for later events; 0 to capture as usual. */
/* Global (verified once): the byte loops' states would otherwise be explored
 * again for every path of the caller. */
__noinline __u32 head_only_capture(__u32 staged, __u32 total, __u64 *body_left) {
  if (!body_left) return 0;
  __u32 zero = 0;
  struct capture_scratch *s = bpf_map_lookup_elem(&scratch, &zero);
  if (!s) return 0;
  struct head_scan scan;
  scan_http_head(s->data, staged, &scan);
  s->scanned_head_end = scan.end;
  s->scanned_traceparent = scan.traceparent_nl;
  if (scan.end <= 0 || scan.transfer_encoding || scan.length_at < 0) return 0;
  __u32 head = (__u32)scan.end;
  if (head > staged || head > total) return 0;
  __s64 length = parse_content_length(s->data, (__u32)scan.length_at, head);
  if (length < 0) return 0;
  __u64 body_here = total - head;
  if ((__u64)length < body_here) return 0; /* another message follows */
  *body_left = (__u64)length - body_here;
  return head;
}

/* The capture policy, shared by socket and TLS plaintext events. Before any
 * copy: 1 when the whole call lies inside a declared body (its size is all
 * that is needed); otherwise the countdown restarts, a message may start here.
 * body_left is 0 when bodies are copied. */
static __always_inline int inside_declared_body(__u64 *body_left, __u32 total) {
  if (!body_left) return 0;
  if (*body_left >= total) {
    *body_left -= total;
    return 1;
  }
  *body_left = 0;
  return 0;
}

/* Once the first bytes are staged: the length of the head to keep when they
 * start a message whose body can be skipped, else 0. */
static __always_inline __u32 head_to_keep(const __u8 *d, __u32 staged, __u32 total,
                                          __u64 *body_left) {
  if (!body_left || staged < 8 || staged > WEFT_MAX_CAPTURE) return 0;
  if (!is_http_request_start(d, staged) && !is_http_response_start(d, staged)) return 0;
  return head_only_capture(staged, total, body_left);
}

/* Where find_traceparent would find a traceparent value in the `captured`
 * staged bytes, when the head scan of this event already knows:
 * WEFT_TRACEPARENT_UNKNOWN when it does not (no head end seen, or bytes
 * after the head were captured too). Same bounds as find_traceparent: the
 * whole value must lie in the captured bytes. */
#define WEFT_TRACEPARENT_UNKNOWN (-2)
static __always_inline int traceparent_from_head_scan(const struct capture_scratch *s,
                                                      __u32 captured) {
  __s32 end = s->scanned_head_end;
  if (end <= 0) return WEFT_TRACEPARENT_UNKNOWN;
  __s32 nl = s->scanned_traceparent;
  if (nl < 0) return captured > (__u32)end ? WEFT_TRACEPARENT_UNKNOWN : -1;
  if ((__u32)nl + WEFT_TRACEPARENT_MIN_LINE > captured) return -1;
  __u32 v = (__u32)nl + 1 + 12;
  if (s->data[v & (2 * WEFT_MAX_CAPTURE - 1)] == ' ') v++;
  if (s->data[v & (2 * WEFT_MAX_CAPTURE - 1)] == ' ') v++;
  return (int)v;
}

/* Flags and counters for what an event copied of its `total` bytes. */
static __always_inline void note_capture(struct weft_data_event *ev, __u32 head, int body_only,
                                         __u32 captured, __u32 total) {
  if (head ? head < total : body_only) {
    ev->flags |= WEFT_DATA_BODY_SKIPPED;
    stat_add(WEFT_STAT_BODY_BYTES_SKIPPED, total - captured);
  } else if (captured < total) {
    ev->flags |= WEFT_DATA_TRUNCATED;
    stat_add(WEFT_STAT_TRUNCATED, 1);
  }
}

#endif /* WEFT_BPF_HTTP_HEAD_BPF_H */
