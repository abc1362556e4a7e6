#!/usr/bin/env python3
"""Traced against untraced inside one weft run, switched every second.

Separate traced and untraced runs (bench/run) sit tens of seconds apart, and
on a shared machine the load drifts by more than weft costs in that time.
Here one weft instance traces a saturated nginx, and the nginx processes'
`traced_slots` words (the first check of every weft program, in weft's .bss,
mapped through the BPF map's fd) are cleared and restored every phase: weft's
programs stay attached, so an untraced phase costs what an untraced process
pays while weft traces others (the "filter only" path). Phases run in ABBA
order; each pair of adjacent phases gives one ratio.

Per phase: requests from nginx's stub_status, nginx worker CPU time. nginx
(one worker) is pinned to CPU 0, wrk and weft to CPU 1, so the worker's CPU
per request is what the probes cost nginx itself.

  traced_flip.py [--weft PATH] [--phases 20] [--phase-seconds 1] [-- weft args]

Root only. Prints one JSON line. Used to compare builds of weft: run it once
per build, alternating builds, and compare their ratios. Never asserts.
"""
import argparse
import ctypes
import json
import mmap
import os
import struct
import subprocess
import sys
import time
import urllib.request

import harness
import nginx_bench

BPF_MAP_GET_FD_BY_ID = 14
SYS_BPF = {"x86_64": 321, "aarch64": 280}[os.uname().machine]
TRACED_SLOTS = 65536  # WEFT_TRACED_SLOTS in bpf/capture.h


def map_fd(map_id):
    libc = ctypes.CDLL(None, use_errno=True)
    attr = ctypes.create_string_buffer(128)
    struct.pack_into("I", attr, 0, map_id)
    fd = libc.syscall(SYS_BPF, BPF_MAP_GET_FD_BY_ID, attr, len(attr))
    if fd < 0:
        raise OSError(ctypes.get_errno(), "BPF_MAP_GET_FD_BY_ID %d" % map_id)
    return fd


def bss_variable_offset(btf_id, name):
    """Offset of global `name` in the .bss data section described by BTF."""
    out = subprocess.run(["bpftool", "-j", "btf", "dump", "id", str(btf_id)],
                         capture_output=True, text=True, check=True)
    types = json.loads(out.stdout)["types"]
    by_id = {t["id"]: t for t in types}
    for t in types:
        if t.get("kind") == "DATASEC" and t.get("name") == ".bss":
            for var in t["vars"]:
                if by_id[var["type_id"]].get("name") == name:
                    return var["offset"]
    raise RuntimeError("no %s in .bss of BTF %d" % (name, btf_id))


class TracedSlots:
    """weft's traced_slots array, mapped writable from its .bss map."""

    def __init__(self, weft):
        maps = harness.bpf_maps()
        progs = harness.bpf_programs()
        used = {m for i in weft.prog_ids for m in progs.get(i, {}).get("map_ids", [])}
        found = []
        for map_id in used:
            m = maps.get(map_id, {})
            if not m.get("name", "").endswith(".bss") or "btf_id" not in m:
                continue
            try:
                found.append((m, bss_variable_offset(m["btf_id"], "traced_slots")))
            except RuntimeError:
                continue
        if len(found) != 1:
            raise RuntimeError("expected one .bss with traced_slots, found %d" % len(found))
        m, self.base = found[0]
        size = (m["bytes_value"] + mmap.PAGESIZE - 1) // mmap.PAGESIZE * mmap.PAGESIZE
        fd = map_fd(m["id"])
        try:
            self.mem = mmap.mmap(fd, size, mmap.MAP_SHARED, mmap.PROT_READ | mmap.PROT_WRITE)
        finally:
            os.close(fd)

    def offset(self, tgid):
        return self.base + (tgid & (TRACED_SLOTS - 1)) * 8

    def get(self, tgid):
        return struct.unpack_from("Q", self.mem, self.offset(tgid))[0]

    def set(self, tgid, value):
        # One aligned 8-byte store: the kernel's compare-and-swaps on the
        # same word (fork, exit, marks) see either value whole.
        struct.pack_into("Q", self.mem, self.offset(tgid), value)


def pin(pid, cpu):
    for tid in os.listdir("/proc/%d/task" % pid):
        os.sched_setaffinity(int(tid), {cpu})


def served(port):
    """nginx's 'requests' counter (the third number on stub_status's third line)."""
    body = urllib.request.urlopen("http://127.0.0.1:%d/status" % port, timeout=5).read()
    return int(body.decode().split("\n")[2].split()[2])


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--weft", default=harness.WEFT, help="weft binary (default: %(default)s)")
    parser.add_argument("--phases", type=int, default=20)
    parser.add_argument("--phase-seconds", type=float, default=1.0)
    parser.add_argument("weft_args", nargs="*", help="extra `weft run` arguments (after --)")
    args = parser.parse_args()
    if os.geteuid() != 0:
        print("traced_flip: needs root (BPF maps, weft)", file=sys.stderr)
        return 2
    if os.cpu_count() < 2:
        print("traced_flip: needs 2 CPUs (nginx on one, wrk and weft on the other)",
              file=sys.stderr)
        return 2
    harness.WEFT = args.weft
    nginx = nginx_bench.Nginx(status=True)
    weft = None
    try:
        with open("/proc/%d/task/%d/children" % (nginx.proc.pid, nginx.proc.pid)) as f:
            worker = int(f.read().split()[0])
        pin(nginx.proc.pid, 0)
        pin(worker, 0)
        weft = harness.Weft([nginx.proc.pid], args.weft_args)
        pin(weft.pid, 1)
        slots = TracedSlots(weft)
        tgids = [nginx.proc.pid, worker]
        held = {t: slots.get(t) for t in tgids}
        for t, value in held.items():
            if value & 0xFFFFFFFF != t:
                raise RuntimeError("slot of %d is %#x, not held by it alone" % (t, value))
        seconds = int(args.phases * (args.phase_seconds + 0.3)) + 3
        wrk = subprocess.Popen(["taskset", "-c", "1", "wrk", "-t1", "-c16", "-d%ds" % seconds,
                                nginx.url], stdout=subprocess.DEVNULL)
        time.sleep(1)
        phases = {"traced": [], "untraced": []}
        for i in range(args.phases):
            traced = i % 4 in (0, 3)  # ABBA
            for t, value in held.items():
                slots.set(t, value if traced else 0)
            time.sleep(0.2)  # let requests in flight finish under the new setting
            cpu0, req0, t0 = harness.cpu_seconds(worker), served(nginx.port), time.time()
            time.sleep(args.phase_seconds)
            cpu1, req1, t1 = harness.cpu_seconds(worker), served(nginx.port), time.time()
            requests = max(req1 - req0, 1)
            phases["traced" if traced else "untraced"].append(
                {"rps": requests / (t1 - t0), "nginx_cpu_us": (cpu1 - cpu0) * 1e6 / requests})
        for t, value in held.items():
            slots.set(t, value)
        wrk.wait()
    finally:
        counters = weft.stop() if weft else {}
        nginx.close()
    pairs = list(zip(phases["untraced"], phases["traced"]))
    median = harness.median
    print(json.dumps({
        "weft": args.weft,
        "phases": args.phases,
        "phase_seconds": args.phase_seconds,
        "rps": {k: round(median([p["rps"] for p in v])) for k, v in phases.items()},
        "rps_ratio": round(median([t["rps"] / u["rps"] for u, t in pairs]), 3),
        "nginx_cpu_us_per_request": {k: round(median([p["nginx_cpu_us"] for p in v]), 2)
                                     for k, v in phases.items()},
        "nginx_cpu_us_added": round(median([t["nginx_cpu_us"] - u["nginx_cpu_us"]
                                            for u, t in pairs]), 2),
        "weft_exit": counters,
    }))
    return 0


if __name__ == "__main__":
    sys.exit(main())
