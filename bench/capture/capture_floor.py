#!/usr/bin/env python3
"""In-kernel time per request of several weft builds, floors included.

Tells the cost of weft's design from the cost of the machine: next to the
shipped build it measures builds whose BPF programs do the least any capture
can do (cmake -DWEFT_BPF_CAPTURE_FLOOR, see bpf/capture.bpf.c): find the
syscall's buffer, copy its first bytes, write one ring record, nothing else;
on reads and sends (2) or on reads only (1). A "filter only" run (nginx
untraced while the first build traces a `sleep`) shows what being attached
costs.

  cmake -S . -B build-floor2 -DCMAKE_BUILD_TYPE=RelWithDebInfo -DWEFT_BPF_CAPTURE_FLOOR=2
  cmake -S . -B build-floor1 -DCMAKE_BUILD_TYPE=RelWithDebInfo -DWEFT_BPF_CAPTURE_FLOOR=1
  cmake --build build-floor2 --target weft; cmake --build build-floor1 --target weft
  sudo bench/capture/capture_floor.py [--rounds 3] [--seconds 4] [--json FILE] [NAME=BINARY [ARG...]]...

Without NAME=BINARY arguments it compares build/weft (with and without
--no-trace-context) with build-floor2/weft and build-floor1/weft (both with
--no-trace-context). The Debian nginx of bench scenario 1 (1 KiB file, one
worker) runs under wrk saturation; builds alternate, in reversed order every
other round; BPF run-time stats are on. Prints a Markdown table of in-kernel
ns per request (all of the build's programs, summed, over the requests
served). Report only: never asserts.
"""
import argparse
import json
import os
import shlex
import subprocess
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.normpath(os.path.join(HERE, "..", ".."))
sys.path.insert(0, os.path.join(HERE, "..", "scenarios"))
import harness  # noqa: E402
import nginx_bench  # noqa: E402

DEFAULT_BUILDS = [
    "shipped=build/weft",
    "shipped, --no-trace-context=build/weft --no-trace-context",
    "floor: two records per request=build-floor2/weft --no-trace-context",
    "floor: one record per request=build-floor1/weft --no-trace-context",
]


def parse_build(text):
    name, sep, command = text.partition("=")
    words = shlex.split(command)
    if not sep or not name or not words:
        raise argparse.ArgumentTypeError("expected NAME=BINARY [ARG...], got %r" % text)
    binary = words[0] if os.path.isabs(words[0]) else os.path.join(ROOT, words[0])
    if not os.access(binary, os.X_OK):
        raise argparse.ArgumentTypeError(
            "%s: no executable weft at %s (build it first; see --help)" % (name, binary))
    return name, binary, words[1:]


def measure(nginx, binary, args, seconds, traced_pid):
    harness.WEFT = binary
    weft = harness.Weft([traced_pid], args)
    try:
        before = weft.snapshot()
        result = harness.run_wrk(nginx.url, seconds)
        after = weft.snapshot()
    finally:
        counters = weft.stop()
    cost = harness.delta(before, after, result["requests"])
    return {
        "rps": round(result["rps"]),
        "kernel_ns_per_request": round(cost.get("kernel_ns_per_request", 0)),
        "programs": {name: {"ns_per_run": round(p["ns"] / p["runs"]),
                            "runs_per_request": round(p["runs"] / max(result["requests"], 1), 2)}
                     for name, p in cost["programs"].items()},
        "lost": counters.get("lost"),
    }


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--seconds", type=int, default=4)
    parser.add_argument("--json", help="also write every run's figures here")
    parser.add_argument("builds", nargs="*", metavar="NAME=BINARY [ARG...]")
    args = parser.parse_args()
    if os.geteuid() != 0:
        print("capture_floor: needs root (weft loads eBPF programs)", file=sys.stderr)
        return 2
    try:
        builds = [parse_build(b) for b in (args.builds or DEFAULT_BUILDS)]
    except argparse.ArgumentTypeError as e:
        print("capture_floor: %s" % e, file=sys.stderr)
        return 2
    runs = {name: [] for name, _, _ in builds}
    runs["filter only"] = []
    nginx = nginx_bench.Nginx()
    sleeper = subprocess.Popen(["sleep", "3600"])
    try:
        harness.run_wrk(nginx.url, 1)  # warm caches before the first measured run
        harness.enable_bpf_stats(True)
        plan = builds + [("filter only", builds[0][1], builds[0][2])]
        for r in range(args.rounds):
            for name, binary, extra in (plan if r % 2 == 0 else plan[::-1]):
                pid = sleeper.pid if name == "filter only" else nginx.proc.pid
                row = measure(nginx, binary, extra, args.seconds, pid)
                runs[name].append(row)
                print("round %d, %s: %d ns/request, %d req/s" % (
                    r + 1, name, row["kernel_ns_per_request"], row["rps"]),
                    file=sys.stderr, flush=True)
    finally:
        harness.enable_bpf_stats(False)
        sleeper.kill()
        sleeper.wait()
        nginx.close()
    print("| build | in-kernel ns per request, by round | median | req/s (median) |")
    print("|---|---|---:|---:|")
    for name, rows in runs.items():
        values = [r["kernel_ns_per_request"] for r in rows]
        print("| %s | %s | %d | %d |" % (name, ", ".join(str(v) for v in values),
                                        harness.median(values),
                                        harness.median([r["rps"] for r in rows])))
    if args.json:
        with open(args.json, "w") as f:
            json.dump({"builds": [{"name": n, "binary": b, "args": a} for n, b, a in builds],
                       "rounds": args.rounds, "seconds": args.seconds, "runs": runs}, f, indent=1)
    return 0


if __name__ == "__main__":
    sys.exit(main())
