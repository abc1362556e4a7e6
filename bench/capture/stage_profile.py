#!/usr/bin/env python3
"""Where a traced socket event's in-kernel time goes, stage by stage.

Needs a weft whose BPF programs were built with the stage profiler:
  cmake -S . -B build-profile -DWEFT_BPF_STAGE_PROFILE=ON
  cmake --build build-profile --target weft
  sudo WEFT_BUILD_DIR=build-profile bench/capture/stage_profile.py [--seconds N] [--rounds N]

Traces the Debian nginx of bench scenario 1 (1 KiB file, one worker) under
wrk saturation and prints, per stage of bpf/stage_profile.h, the mean ns
per pass and per request, the median over rounds. Each mark reads the clock
twice; the "mark cost" row is what one mark adds, included in every other
row. Report only: the profiler's own cost makes the absolute figures larger
than an unprofiled build's; compare stages with each other.
"""
import argparse
import json
import os
import re
import subprocess
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "scenarios"))
import harness  # noqa: E402
import nginx_bench  # noqa: E402

STAGES_HEADER = os.path.join(HERE, "..", "..", "bpf", "stage_profile.h")


def stage_names():
    names = {}
    with open(STAGES_HEADER) as f:
        for m in re.finditer(r"WEFT_STAGE_(\w+) = (\d+),\s*/\* (.*?) \*/", f.read()):
            names[int(m.group(2))] = (m.group(1).lower(), m.group(3))
    return names


def read_profile():
    """{stage: (ns, passes)} summed over CPUs."""
    out = subprocess.run(["bpftool", "-j", "map", "dump", "name", "stage_profile"],
                         capture_output=True, text=True)
    if out.returncode != 0:
        sys.exit("no stage_profile map: is %s built with -DWEFT_BPF_STAGE_PROFILE=ON? (%s)"
                 % (harness.WEFT, out.stderr.strip()))
    totals = {}
    for entry in json.loads(out.stdout):
        key = int.from_bytes(bytes(int(b, 16) for b in entry["key"]), "little")
        ns = passes = 0
        for cpu in entry["values"]:
            raw = bytes(int(b, 16) for b in cpu["value"])
            ns += int.from_bytes(raw[:8], "little")
            passes += int.from_bytes(raw[8:16], "little")
        totals[key] = (ns, passes)
    return totals


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=int, default=5)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    if os.geteuid() != 0:
        sys.exit("stage_profile.py loads BPF programs: run it as root")
    names = stage_names()
    per_round = []
    nginx = nginx_bench.Nginx()
    try:
        harness.run_wrk(nginx.url, 1)
        for _ in range(args.rounds):
            weft = harness.Weft([nginx.proc.pid])
            try:
                result = harness.run_wrk(nginx.url, args.seconds)
                totals = read_profile()
            finally:
                weft.stop()
            per_round.append((result, totals))
    finally:
        nginx.close()
    print("nginx 1 KiB, wrk saturation, %d rounds of %d s: %s req/s"
          % (args.rounds, args.seconds, ", ".join("%.0f" % r["rps"] for r, _ in per_round)))
    print()
    print("| stage | what | ns per pass | passes per request | ns per request |")
    print("|---|---|---:|---:|---:|")
    for stage in sorted(names):
        if stage == 0:
            continue
        per_pass, per_request, passes = [], [], []
        for result, totals in per_round:
            ns, n = totals.get(stage, (0, 0))
            if n:
                per_pass.append(ns / n)
                per_request.append(ns / max(result["requests"], 1))
                passes.append(n / max(result["requests"], 1))
        if not per_pass:
            continue
        name, what = names[stage]
        print("| %s | %s | %.0f | %.2f | %.0f |" % (name, what, harness.median(per_pass),
                                                   harness.median(passes),
                                                   harness.median(per_request)))


if __name__ == "__main__":
    main()
