"""Shared pieces of weft's scenario benchmarks: starting and stopping weft,
reading its CPU time, memory and exit counters, and BPF run-time statistics
of the programs and maps this weft instance loaded (other weft instances on
the node are told apart by ids that appear only when this one starts)."""
import json
import os
import re
import resource
import socket
import statistics
import subprocess
import threading
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.abspath(os.path.join(HERE, "..", ".."))
BUILD = os.path.abspath(os.environ.get("WEFT_BUILD_DIR", os.path.join(ROOT, "build")))
WEFT = os.path.join(BUILD, "weft")
CLK_TCK = os.sysconf("SC_CLK_TCK")


def quick():
    return os.environ.get("BENCH_QUICK", "") not in ("", "0")


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wrk_p99_us(wrk_output):
    """The 99th percentile latency of `wrk --latency` output, in us (None if absent)."""
    m = re.search(r"^\s*99%\s+([\d.]+)(us|ms|s)\s*$", wrk_output, re.M)
    if not m:
        return None
    return float(m.group(1)) * {"us": 1, "ms": 1e3, "s": 1e6}[m.group(2)]


def median(values):
    return statistics.median(values) if values else None


def paired_ratio(samples, key):
    """Median over rounds of traced/untraced within each round: the two runs
    of a round are adjacent in time, so load from other tenants that drifts
    over tens of seconds cancels better than in a ratio of medians."""
    pairs = zip(samples["untraced"], samples["traced"])
    return median([t[key] / u[key] for u, t in pairs if u[key]])


def ab_orders(rounds):
    """Alternating configuration order per round (AB, BA, AB, ...): drift
    within a round then falls on each configuration equally often."""
    return [("untraced", "traced") if r % 2 == 0 else ("traced", "untraced")
            for r in range(rounds)]


def cpu_seconds(pid):
    """utime + stime of every thread of `pid`, in seconds."""
    with open("/proc/%d/stat" % pid) as f:
        fields = f.read().rsplit(")", 1)[1].split()
    # fields[0] is field 3 (state); utime and stime are fields 14 and 15.
    return (int(fields[11]) + int(fields[12])) / CLK_TCK


def tree_cpu_seconds(pid):
    """cpu_seconds of `pid` and its direct children (nginx master + worker)."""
    total = cpu_seconds(pid)
    with open("/proc/%d/task/%d/children" % (pid, pid)) as f:
        for child in f.read().split():
            total += cpu_seconds(int(child))
    return total


def children_cpu_seconds():
    """User + system time of this process's waited-for children (wrk)."""
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def status_kib(pid, key):
    with open("/proc/%d/status" % pid) as f:
        for line in f:
            if line.startswith(key + ":"):
                return int(line.split()[1])
    return 0


def context_switches(pid):
    """Voluntary + involuntary context switches summed over all threads:
    each voluntary one is a sleep/wake cycle of the agent."""
    total = 0
    for tid in os.listdir("/proc/%d/task" % pid):
        try:
            with open("/proc/%d/task/%s/status" % (pid, tid)) as f:
                for line in f:
                    if line.startswith(("voluntary_ctxt_switches", "nonvoluntary_ctxt_switches")):
                        total += int(line.split()[1])
        except FileNotFoundError:
            pass
    return total


def bpf_programs():
    """{id: prog json} of every loaded program whose name starts with weft_."""
    out = subprocess.run(["bpftool", "-j", "prog", "show"], capture_output=True, text=True)
    return {p["id"]: p for p in json.loads(out.stdout or "[]")
            if p.get("name", "").startswith("weft_")}


def bpf_maps():
    out = subprocess.run(["bpftool", "-j", "map", "show"], capture_output=True, text=True)
    return {m["id"]: m for m in json.loads(out.stdout or "[]")}


def enable_bpf_stats(on):
    subprocess.run(["sysctl", "-q", "kernel.bpf_stats_enabled=%d" % (1 if on else 0)], check=False)


class Weft:
    """One `weft run` process, started and ready, with its programs known."""

    def __init__(self, pids, extra_args=()):
        existing = set(bpf_programs())
        cmd = [WEFT, "run", "--exporter", "none"] + list(extra_args)
        for pid in pids:
            cmd += ["--pid", str(pid)]
        self.proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                                     text=True)
        self.stderr_lines = []
        for line in self.proc.stderr:
            self.stderr_lines.append(line)
            if line.startswith("weft ready"):
                break
        else:
            raise RuntimeError("weft did not start (exit %s): %s"
                               % (self.proc.wait(), "".join(self.stderr_lines[-5:])))
        # Keep draining stderr so weft never blocks on a full pipe.
        self._reader = threading.Thread(target=self._drain, daemon=True)
        self._reader.start()
        self.pid = self.proc.pid
        self.prog_ids = [i for i in bpf_programs() if i not in existing]

    def _drain(self):
        for line in self.proc.stderr:
            self.stderr_lines.append(line)

    def snapshot(self):
        """CPU seconds, context switches and per-program (run_time_ns, run_cnt)."""
        progs = bpf_programs()
        return {
            "cpu_s": cpu_seconds(self.pid),
            "switches": context_switches(self.pid),
            "progs": {i: (progs[i]["name"], progs[i].get("run_time_ns", 0),
                          progs[i].get("run_cnt", 0)) for i in self.prog_ids if i in progs},
        }

    def rss_kib(self):
        return status_kib(self.pid, "VmRSS")

    def map_memlock_bytes(self):
        """bytes_memlock summed over the maps this weft's programs use."""
        progs = bpf_programs()
        map_ids = set()
        for i in self.prog_ids:
            map_ids.update(progs.get(i, {}).get("map_ids", []))
        maps = bpf_maps()
        return sum(int(maps[m].get("bytes_memlock", 0)) for m in map_ids if m in maps)

    def stop(self):
        """SIGTERM; returns the exit counters {"events": N, "lost": M, ...}."""
        self.proc.terminate()
        self.proc.wait(20)
        self._reader.join(5)
        text = "".join(self.stderr_lines)
        counters = {}
        match = re.search(r"capture: (\d+) events, (\d+) lost", text)
        if match:
            counters = {"events": int(match.group(1)), "lost": int(match.group(2))}
        return counters


def delta(before, after, requests):
    """Agent cost between two snapshots, per request."""
    out = {
        "agent_cpu_s": after["cpu_s"] - before["cpu_s"],
        "switches": after["switches"] - before["switches"],
        "requests": requests,
        "programs": {},
    }
    kernel_ns = 0
    for prog_id, (name, t1, c1) in after["progs"].items():
        _, t0, c0 = before["progs"].get(prog_id, (name, 0, 0))
        if c1 > c0:
            kernel_ns += t1 - t0
            entry = out["programs"].setdefault(name, {"ns": 0, "runs": 0})
            entry["ns"] += t1 - t0
            entry["runs"] += c1 - c0
    out["kernel_ns"] = kernel_ns
    if requests:
        out["agent_us_per_request"] = out["agent_cpu_s"] * 1e6 / requests
        out["kernel_ns_per_request"] = kernel_ns / requests
        out["switches_per_request"] = out["switches"] / requests
    return out


def wait_for_port(port, timeout=20.0):
    end = time.time() + timeout
    while time.time() < end:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=1):
                return
        except OSError:
            time.sleep(0.1)
    raise RuntimeError("nothing listens on port %d" % port)


def run_wrk(url, seconds, connections=16, threads=1, server_pid=None):
    """Closed-loop saturation with wrk over keep-alive; returns requests/s and,
    with server_pid, the CPU microseconds per request of server + wrk."""
    cpu0 = children_cpu_seconds() + (tree_cpu_seconds(server_pid) if server_pid else 0)
    out = subprocess.run(["wrk", "-t%d" % threads, "-c%d" % connections, "-d%ds" % seconds, url],
                         capture_output=True, text=True, check=True).stdout
    requests = int(re.search(r"(\d+) requests in", out).group(1))
    rate = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))
    errors = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    result = {"requests": requests, "rps": rate, "non_2xx": int(errors.group(1)) if errors else 0}
    if server_pid:
        cpu = children_cpu_seconds() + tree_cpu_seconds(server_pid) - cpu0
        result["cpu_us_per_request"] = cpu * 1e6 / max(requests, 1)
    return result
