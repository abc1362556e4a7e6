"""The cost of traceparent propagation on the sending side: a keep-alive
client loop (wrk, 4 connections) traced by weft, against nginx serving a
1 KiB file on loopback, with and without --propagate=headers, in alternating
rounds (ABAB, BABA...). With propagation every request wrk sends passes the
sk_msg program and gains a 70-byte header. Reports throughput and p99 ratios
(propagate / plain) from pairs taken in the same round. Reports, never asserts.

    propagation_bench.py [--rounds N] [--seconds S]     (root; BENCH_QUICK=1: short)
"""
import argparse
import json
import re
import subprocess
import sys

import harness
from nginx_bench import Nginx

CONFIGS = ("plain", "propagate")


def traced_wrk(url, seconds, propagate):
    """wrk started held at a shell prompt, traced before it connects (only
    sockets a traced process connects enter weft's sockhash), then released."""
    holder = subprocess.Popen(["/bin/sh", "-c", 'read go; exec wrk --latency -t1 -c4 -d%ds "$0"'
                               % seconds, url], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                              text=True)
    extra = ["--propagate=headers"] if propagate else ["--propagate=none"]
    weft = harness.Weft([holder.pid], extra_args=extra)
    try:
        holder.stdin.write("go\n")
        holder.stdin.close()
        out = holder.stdout.read()
        holder.wait(seconds + 30)
    finally:
        weft.stop()
    text = "".join(weft.stderr_lines)
    injected = re.search(r"propagation: (\d+) requests given a traceparent", text)
    return {
        "rps": float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1)),
        "requests": int(re.search(r"(\d+) requests in", out).group(1)),
        "p99_us": harness.wrk_p99_us(out),
        "injected": int(injected.group(1)) if injected else 0,
    }


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--rounds", type=int, default=2 if harness.quick() else 6)
    parser.add_argument("--seconds", type=int, default=3 if harness.quick() else 8)
    args = parser.parse_args()
    nginx = Nginx()
    samples = {c: [] for c in CONFIGS}
    try:
        for r in range(args.rounds):
            order = CONFIGS if r % 2 == 0 else tuple(reversed(CONFIGS))
            for config in order:
                samples[config].append(traced_wrk(nginx.url, args.seconds,
                                                  config == "propagate"))
    finally:
        nginx.close()

    def paired(key):
        ratios = [p[key] / q[key] for q, p in zip(samples["plain"], samples["propagate"])
                  if q[key] and p[key]]
        return harness.median(ratios)

    result = {
        "scenario": "propagation",
        "rounds": args.rounds,
        "seconds": args.seconds,
        "rps": {c: harness.median([s["rps"] for s in v]) for c, v in samples.items()},
        "p99_us": {c: harness.median([s["p99_us"] for s in v if s["p99_us"]])
                   for c, v in samples.items()},
        "throughput_ratio": paired("rps"),
        "p99_ratio": paired("p99_us"),
        "injected_per_request": harness.median(
            [s["injected"] / s["requests"] for s in samples["propagate"] if s["requests"]]),
        "samples": samples,
    }
    json.dump(result, sys.stdout, indent=2)
    print()


if __name__ == "__main__":
    main()
