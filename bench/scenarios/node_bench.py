"""What Node.js request links cost the program: a Node.js front that makes
one keep-alive call to a Node.js back per request, saturated by wrk
(64 connections), in alternating rounds of three configurations:
  untraced  no weft
  traced    weft traces both (its CLIENT spans then `ambiguous`)
  hooked    weft traces both with --node-links inspector (`node-async`)
Reports throughput and p99 ratios against the untraced run of the same
round, and the hook's messages per request. Reports, never asserts.

    node_bench.py [--rounds N] [--seconds S]     (root; BENCH_QUICK=1: short)
"""
import argparse
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile

import harness

CONFIGS = ("untraced", "traced", "hooked")

# Front: one call per request over a keep-alive pool, no timers: the cost of
# serving is CPU, and the hook's per-request work is in its path.
SERVICE = r"""
'use strict';
const http = require('http');
const [port, downstream] = [Number(process.argv[2]), Number(process.argv[3] || 0)];
const pool = new http.Agent({keepAlive: true, maxSockets: 64});
http.createServer((req, res) => {
  if (!downstream) return res.end('ok\n');
  http.get({host: '127.0.0.1', port: downstream, path: '/leaf', agent: pool}, (r) => {
    r.resume();
    r.on('end', () => res.end('done\n'));
  }).on('error', () => res.writeHead(502).end());
}).listen(port, '127.0.0.1');
"""


def wrk(url, seconds):
    out = subprocess.run(["wrk", "--latency", "-t1", "-c64", "-d%ds" % seconds, url],
                         capture_output=True, text=True, check=True).stdout
    return {"rps": float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1)),
            "requests": int(re.search(r"(\d+) requests in", out).group(1)),
            "p99_us": harness.wrk_p99_us(out)}


def run(rounds, seconds):
    node = shutil.which("node")
    if not node:
        return {"error": "no node on this machine"}
    tmp = tempfile.mkdtemp(prefix="weft-node-bench-")
    path = os.path.join(tmp, "service.js")
    with open(path, "w") as f:
        f.write(SERVICE)
    back_port, front_port = harness.free_port(), harness.free_port()
    back = subprocess.Popen([node, path, str(back_port)], stderr=subprocess.DEVNULL)
    front = subprocess.Popen([node, path, str(front_port), str(back_port)],
                             stderr=subprocess.DEVNULL)
    url = "http://127.0.0.1:%d/" % front_port
    samples = {c: [] for c in CONFIGS}
    try:
        harness.wait_for_port(back_port)
        harness.wait_for_port(front_port)
        wrk(url, 2)  # warm up: JIT, pools
        for r in range(rounds):
            order = CONFIGS if r % 2 == 0 else tuple(reversed(CONFIGS))
            for config in order:
                weft = None
                if config != "untraced":
                    extra = ["--node-links", "inspector" if config == "hooked" else "none"]
                    weft = harness.Weft([front.pid, back.pid], extra_args=extra)
                try:
                    result = wrk(url, seconds)
                finally:
                    if weft:
                        weft.stop()
                if weft:
                    text = "".join(weft.stderr_lines)
                    m = re.search(r"(\d+) messages from hooks", text)
                    result["hook_messages"] = int(m.group(1)) if m else 0
                    result["hooked"] = "2 Node.js processes hooked" in text
                samples[config].append(result)
    finally:
        for p in (front, back):
            p.kill()
            p.wait()
        shutil.rmtree(tmp, ignore_errors=True)

    def paired(config, key):
        return harness.median([s[key] / u[key] for u, s in zip(samples["untraced"],
                                                                samples[config])
                               if u[key] and s[key]])

    hooked = samples["hooked"]
    return {
        "scenario": "node",
        "rounds": rounds,
        "seconds": seconds,
        "rps": {c: harness.median([s["rps"] for s in v]) for c, v in samples.items()},
        "p99_us": {c: harness.median([s["p99_us"] for s in v if s["p99_us"]])
                   for c, v in samples.items()},
        "traced_ratio": paired("traced", "rps"),
        "hooked_ratio": paired("hooked", "rps"),
        "traced_p99_ratio": paired("traced", "p99_us"),
        "hooked_p99_ratio": paired("hooked", "p99_us"),
        "hooked_every_round": all(s.get("hooked") for s in hooked),
        # Per front request: one message for the front's request, one for
        # the back's, and one per change of request on a pooled socket.
        "hook_messages_per_request": harness.median(
            [s["hook_messages"] / s["requests"] for s in hooked if s["requests"]]),
        "samples": samples,
    }


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--rounds", type=int, default=2 if harness.quick() else 4)
    parser.add_argument("--seconds", type=int, default=3 if harness.quick() else 5)
    args = parser.parse_args()
    json.dump(run(args.rounds, args.seconds), sys.stdout, indent=2)
    print()


if __name__ == "__main__":
    main()
