"""Capture cost, per backend, as ratios measured in one run (report only,
never asserts). A tight loop of 64-byte write+read pairs on loopback TCP, timed in CPU
time of the loop process (steadier than wall time on a shared machine):
  none      : no weft running
  traced    : weft traces the loop process
  untraced  : weft runs and traces another process; the loop is not traced
Rounds alternate the configurations (ABAB...) to cancel drift; medians are
reported. In-kernel time per program run comes from BPF run-time stats
(kernel.bpf_stats_enabled), switched on only for the traced runs: the stats
read the clock twice per program run, a cost the other runs should not carry.

Usage: run_capture_bench.py [--rounds N] [--iterations N] [--json FILE]
"""
import argparse
import json
import os
import platform
import signal
import statistics
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
BUILD = os.environ.get("WEFT_BUILD_DIR", os.path.join(HERE, "..", "..", "build"))
WEFT = os.path.join(BUILD, "weft")
LOOP = os.path.join(BUILD, "bench", "weft-bench-socket-loop")


def start_weft(backend, pid):
    p = subprocess.Popen([WEFT, "run", "--exporter", "none", "--backend", backend, "--pid", str(pid)],
                         stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    for line in p.stderr:
        if line.startswith("weft ready"):
            return p
    raise RuntimeError("weft did not start: %s" % p.wait())


def stop(p):
    p.send_signal(signal.SIGTERM)
    p.wait(10)


def weft_progs():
    """{id: (name, run_time_ns, run_cnt)} of every loaded weft program."""
    out = subprocess.run(["bpftool", "-j", "prog", "show"], capture_output=True, text=True)
    progs = {}
    for prog in json.loads(out.stdout or "[]"):
        name = prog.get("name", "")
        if name.startswith("weft_"):
            progs[prog["id"]] = (name, prog.get("run_time_ns", 0), prog.get("run_cnt", 0))
    return progs


def run_loop(iterations, config, backend):
    loop = subprocess.Popen([LOOP, str(iterations), "--wait"], stdin=subprocess.PIPE,
                            stdout=subprocess.PIPE, text=True)
    pid = int(loop.stdout.readline().split()[1])
    weft = None
    other = None
    # Programs loaded by this run's weft are the ones that appear with it
    # (other weft instances on the node would pollute the sums).
    existing = set(weft_progs())
    subprocess.run(["sysctl", "-q", "kernel.bpf_stats_enabled=%d" % (config == "traced")],
                   check=False)
    if config == "traced":
        weft = start_weft(backend, pid)
    elif config == "untraced":
        other = subprocess.Popen(["sleep", "600"])
        weft = start_weft(backend, other.pid)
    before = {i: v for i, v in weft_progs().items() if i not in existing}
    loop.stdin.write("go\n")
    loop.stdin.flush()
    fields = loop.stdout.readline().split()
    # Wall ns, and CPU ns when the loop reports it (user + system of the loop,
    # probes included, waits for a core excluded).
    ns = float(fields[2] if len(fields) > 2 else fields[1])
    loop.wait()
    after = weft_progs()
    if weft:
        stop(weft)
    if other:
        other.kill()
    kernel = {}
    for prog_id, (name, t0, c0) in before.items():
        _, t, c = after.get(prog_id, (name, t0, c0))
        if c - c0 > 0:
            kernel[name] = ((t - t0) / (c - c0), c - c0)
    return ns, kernel


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--rounds", type=int, default=5)
    ap.add_argument("--iterations", type=int, default=200000)
    ap.add_argument("--json")
    args = ap.parse_args()
    if os.geteuid() != 0:
        print("capture bench needs root (it loads eBPF programs)")
        return 2
    results = {}
    for backend in ("socket", "syscall"):
        samples = {"none": [], "traced": [], "untraced": []}
        # Each traced or untraced run against the "none" run just before it:
        # adjacent in time, so drifting load from other tenants cancels.
        paired = {"traced": [], "untraced": []}
        kernel = {}
        for _ in range(args.rounds):
            for config in ("none", "traced", "none", "untraced"):
                ns, k = run_loop(args.iterations, config, backend)
                samples[config].append(ns)
                if config != "none":
                    paired[config].append(ns / samples["none"][-1])
                if config == "traced":
                    for name, (per_run, count) in k.items():
                        kernel.setdefault(name, []).append(per_run)
        med = {c: statistics.median(v) for c, v in samples.items()}
        results[backend] = {
            "ns_per_iteration": med,
            "traced_ratio": statistics.median(paired["traced"]),
            "untraced_ratio": statistics.median(paired["untraced"]),
            "ratio_spread": {c: [min(v), max(v)] for c, v in paired.items()},
            "kernel_ns_per_run": {n: statistics.median(v) for n, v in kernel.items()},
        }
    subprocess.run(["sysctl", "-q", "kernel.bpf_stats_enabled=0"], check=False)

    print("## Capture cost (64-byte write+read pairs on loopback TCP, CPU ns of the loop, median of %d ABAB rounds;"
          " ratios against the adjacent no-weft run)" % args.rounds)
    print()
    print("machine: %s, %d cores, kernel %s" % (platform.processor() or platform.machine(),
                                                os.cpu_count(), platform.release()))
    print()
    print("| backend | untraced loop, no weft (CPU ns/iter) | traced / none (min-max) "
          "| untraced-while-weft / none (min-max) |")
    print("|---|---|---|---|")
    for backend, r in results.items():
        t, u = r["ratio_spread"]["traced"], r["ratio_spread"]["untraced"]
        print("| %s | %.0f | %.3f (%.2f-%.2f) | %.3f (%.2f-%.2f) |"
              % (backend, r["ns_per_iteration"]["none"], r["traced_ratio"], t[0], t[1],
                 r["untraced_ratio"], u[0], u[1]))
    print()
    print("| backend | program | in-kernel ns per run (traced loop) |")
    print("|---|---|---|")
    for backend, r in results.items():
        for name, ns in sorted(r["kernel_ns_per_run"].items()):
            print("| %s | %s | %.0f |" % (backend, name, ns))
    if args.json:
        with open(args.json, "w") as f:
            json.dump({"machine": platform.uname()._asdict(), "results": results}, f, indent=2)
    return 0


if __name__ == "__main__":
    sys.exit(main())
