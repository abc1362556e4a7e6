"""Runs every scenario of issue 5 and prints one Markdown table (scenario,
untraced, traced, ratio or value, target, met?) with the machine's
description, then detail tables; writes the figures as JSON.

Report only: nothing here asserts. Durations: BENCH_QUICK=1 for a smoke run
of about two minutes; BENCH_ROUNDS, BENCH_SECONDS override the defaults.

Usage: run_all.py --json FILE
"""
import argparse
import json
import os
import platform
import subprocess
import sys
import time

import harness
import idle_conns
import nginx_bench
import shop_bench

CAPTURE_BENCH = os.path.join(harness.ROOT, "bench", "capture", "run_capture_bench.py")
HTTP1_BENCH = os.path.join(harness.BUILD, "bench", "http1", "http1_bench")
UPROBE_COST = os.path.join(harness.BUILD, "bench", "weft-bench-uprobe-cost")
PROPAGATION_BENCH = os.path.join(os.path.dirname(os.path.abspath(__file__)), "propagation_bench.py")
NODE_BENCH = os.path.join(os.path.dirname(os.path.abspath(__file__)), "node_bench.py")
# Raw events -> OTLP-encoded bytes when http1_bench has that stage; older
# builds stop at spans, and the table says so.
PIPELINE_BENCHMARKS = {
    "BM_KeepAliveEventsToOtlpBytes": "events -> spans -> OTLP bytes; excludes event decoding",
    "BM_KeepAliveEventsToSpans": "events -> spans; excludes event decoding and OTLP encoding",
}


def settings():
    q = harness.quick()
    rounds = int(os.environ.get("BENCH_ROUNDS", 2 if q else 6))
    seconds = int(os.environ.get("BENCH_SECONDS", 3 if q else 4))
    return {
        "rounds": rounds,
        "saturation_seconds": seconds,
        "fixed_rounds": max(2, rounds * 2 // 3),
        "fixed_seconds": seconds + (1 if q else 3),
        "https_rounds": max(2, rounds * 2 // 3),
        "shop_rounds": max(2, rounds * 2 // 3),
        "shop_seconds": seconds + (0 if q else 4),
        "capture_rounds": 1 if q else 5,
        "capture_iterations": 100000 if q else 200000,
        "idle_connections": 10000,
        # Issue 8's and issue 7's cost rows ride along; 3 rounds keep the
        # whole run well inside issue 5's 10 minutes on a slow day.
        "propagation_rounds": 2 if q else 3,
        "node_rounds": 2 if q else 3,
        "pipeline_min_time": 0.2 if q else 0.5,
        "pipeline_repetitions": 1 if q else 5,
    }


def machine():
    model = ""
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    model = line.split(":", 1)[1].strip()
                    break
    except OSError:
        pass
    with open("/proc/meminfo") as f:
        mem_kib = int(f.readline().split()[1])
    return {"cpu": model or platform.machine(), "cores": os.cpu_count(),
            "kernel": platform.release(), "memory_gib": round(mem_kib / 2**20, 1),
            "load_average_at_start": os.getloadavg()}


def json_file_of(cmd, name, env=None):
    """Runs a tool that writes its figures to `--json FILE`; returns (the
    figures or None, the finished process)."""
    path = os.path.join(harness.ROOT, "bench", "results", "%s-run_all.tmp.json" % name)
    out = subprocess.run(cmd + ["--json", path], capture_output=True, text=True, env=env)
    try:
        with open(path) as f:
            result = json.load(f)
        os.unlink(path)
    except (OSError, ValueError):
        result = None
    return result, out


def capture_bench(s):
    result, out = json_file_of(
        [sys.executable, CAPTURE_BENCH, "--rounds", str(s["capture_rounds"]), "--iterations",
         str(s["capture_iterations"])], "capture",
        env=dict(os.environ, WEFT_BUILD_DIR=harness.BUILD))
    return {"results": result["results"] if result else None, "tables": out.stdout}


def json_scenario(script, rounds, seconds):
    """A scenario script that prints its result as JSON (its own rounds)."""
    out = subprocess.run([sys.executable, script, "--rounds", str(rounds), "--seconds",
                          str(seconds)], capture_output=True, text=True,
                         env=dict(os.environ, WEFT_BUILD_DIR=harness.BUILD))
    try:
        return json.loads(out.stdout)
    except ValueError:
        return {"error": (out.stderr or out.stdout)[-500:]}


def propagation_bench(s):
    """Issue 8's bench: a keep-alive client loop with and without
    --propagate=headers (propagation_bench.py)."""
    return json_scenario(PROPAGATION_BENCH, s["propagation_rounds"], s["saturation_seconds"])


def node_bench(s):
    """The cost of Node.js request links (node_bench.py)."""
    return json_scenario(NODE_BENCH, s["node_rounds"], s["saturation_seconds"])


def uprobe_cost():
    """What one uprobe hit costs here (bench/capture/uprobe_cost.cc): the
    trap cost of TLS capture, which BPF run-time statistics do not see."""
    if not os.access(UPROBE_COST, os.X_OK):
        return {"error": "%s not built" % UPROBE_COST}
    result, out = json_file_of([UPROBE_COST], "uprobe-cost")
    if result is None:
        return {"error": (out.stderr or out.stdout or "no output")[-300:]}
    result["table"] = out.stdout
    return result


def tls_trap_floor(https_agent, untraced_cpu_us, costs):
    """The CPU per request that TLS capture's probe traps alone add: entry
    probes (programs weft_ssl_*_enter) and return probes (weft_ssl_return)
    per request, priced at this machine's measured cost per hit; and the
    best CPU ratio possible with that many traps."""
    cases = costs.get("cases", {})
    pair = cases.get("entry_and_return", {}).get("added_ns")
    entry = cases.get("entry_emulated", {}).get("added_ns")
    if pair is None or entry is None:
        return None
    programs = https_agent["programs"]
    entries = sum(p["runs_per_request"] for n, p in programs.items()
                  if n.startswith("weft_ssl_") and n.endswith("_enter"))
    returns = programs.get("weft_ssl_return", {}).get("runs_per_request", 0)
    pairs = min(entries, returns)
    floor_us = (pairs * pair + (entries - pairs) * entry) / 1000
    return {"entries_per_request": entries, "returns_per_request": returns,
            "floor_us": floor_us, "best_cpu_ratio": untraced_cpu_us / (untraced_cpu_us + floor_us)}


def pipeline_bench(s):
    if not os.access(HTTP1_BENCH, os.X_OK):
        return None
    # Medians of several repetitions: on a shared machine one repetition
    # moved by a third between back-to-back runs.
    repeat = ["--benchmark_repetitions=%d" % s["pipeline_repetitions"],
              "--benchmark_report_aggregates_only=true"]
    out = subprocess.run([HTTP1_BENCH, "--benchmark_format=json",
                          "--benchmark_min_time=%s" % s["pipeline_min_time"]] + repeat,
                         capture_output=True, text=True)
    if out.returncode != 0:
        # Older Google Benchmark wants a plain number, newer a unit suffix.
        out = subprocess.run([HTTP1_BENCH, "--benchmark_format=json"] + repeat,
                             capture_output=True, text=True)
    data = json.loads(out.stdout)
    return {b.get("run_name", b["name"]): {"items_per_second": b.get("items_per_second"),
                                           "cpu_ns": b.get("cpu_time"),
                                           "real_ns": b.get("real_time")}
            for b in data["benchmarks"] if b.get("aggregate_name", "median") == "median"}


def summarize_agent(costs):
    """Medians over traced rounds of the per-request agent costs."""
    programs = {}
    for cost in costs:
        requests = cost.get("requests") or 1
        for name, p in cost["programs"].items():
            entry = programs.setdefault(name, {"ns_per_run": [], "runs_per_request": [],
                                               "ns_per_request": []})
            entry["ns_per_run"].append(p["ns"] / p["runs"])
            entry["runs_per_request"].append(p["runs"] / requests)
            entry["ns_per_request"].append(p["ns"] / requests)
    return {
        "agent_us_per_request": harness.median([c["agent_us_per_request"] for c in costs]),
        "kernel_ns_per_request": harness.median([c["kernel_ns_per_request"] for c in costs]),
        "switches_per_second": harness.median([c["switches"] / c["seconds"] for c in costs
                                               if "seconds" in c]),
        "switches_per_request": harness.median([c["switches_per_request"] for c in costs]),
        "rss_kib": max((c.get("rss_kib", 0) for c in costs), default=0),
        # Median: a weft started by someone else at the same moment can add
        # its programs (and maps) to one round's "new ids".
        "map_memlock_bytes": harness.median([c.get("map_memlock_bytes", 0) for c in costs]),
        "lost": sum(c.get("lost", 0) for c in costs),
        "events": sum(c.get("events", 0) for c in costs),
        "programs": {n: {k: harness.median(v) for k, v in e.items()}
                     for n, e in programs.items()},
    }


def spread(samples, key, digits=0):
    values = [s[key] for s in samples]
    return "%.*f-%.*f" % (digits, min(values), digits, max(values)) if values else "-"


def row(name, untraced, traced, value, target, met):
    verdict = "-" if met is None else ("yes" if met else "**no**")
    return "| %s | %s | %s | %s | %s | %s |" % (name, untraced, traced, value, target, verdict)


def render(r):
    lines = []
    m = r["machine"]
    lines.append("machine: %s, %d cores, %.1f GiB, kernel %s, load average at start %s"
                 % (m["cpu"], m["cores"], m["memory_gib"], m["kernel"],
                    " ".join("%.2f" % x for x in m["load_average_at_start"])))
    lines.append("")
    lines.append("settings: %s" % json.dumps(r["settings"]))
    lines.append("")
    lines.append("| scenario | untraced | traced | ratio / value | target | met? |")
    lines.append("|---|---|---|---|---|---|")
    sat = r["nginx"]["saturation"]
    agent = r["nginx_agent"]
    lines.append(row("1. nginx 1 KiB, wrk saturation (req/s)", "%.0f" % sat["rps"]["untraced"],
                     "%.0f" % sat["rps"]["traced"], "%.3f" % sat["ratio"], ">= 0.85",
                     sat["ratio"] >= 0.85))
    cpu = sat["cpu_us_per_request"]
    lines.append(row("1. same, CPU per request of nginx + wrk + weft (us; ratio untraced/traced)",
                     "%.1f" % cpu["untraced"], "%.1f" % cpu["traced"], "%.3f" % sat["cpu_ratio"],
                     ">= 0.85", sat["cpu_ratio"] >= 0.85))
    fixed = r["nginx"]["fixed_rate"]
    lat = fixed["latency"]
    lines.append(row("2. nginx at %d req/s (half saturation), p50 (us)" % fixed["rate"],
                     "%.0f" % lat["untraced"]["p50_us"], "%.0f" % lat["traced"]["p50_us"],
                     "%.3f" % fixed["p50_ratio"], "<= 1.05", fixed["p50_ratio"] <= 1.05))
    lines.append(row("2. nginx at %d req/s, p99 (us)" % fixed["rate"],
                     "%.0f" % lat["untraced"]["p99_us"], "%.0f" % lat["traced"]["p99_us"],
                     "%.3f" % fixed["p99_ratio"], "<= 1.10", fixed["p99_ratio"] <= 1.10))
    https = r.get("https")
    if https and https["tls_programs_ran"]:
        lines.append(row("HTTPS nginx 1 KiB (TLS 1.3), wrk saturation (req/s)",
                         "%.0f" % https["rps"]["untraced"], "%.0f" % https["rps"]["traced"],
                         "%.3f" % https["ratio"], ">= 0.80", https["ratio"] >= 0.80))
        hc = https["cpu_us_per_request"]
        lines.append(row("HTTPS, CPU per request of nginx + wrk + weft (us; ratio untraced/traced)",
                         "%.1f" % hc["untraced"], "%.1f" % hc["traced"],
                         "%.3f" % https["cpu_ratio"], ">= 0.80", https["cpu_ratio"] >= 0.80))
    else:
        lines.append(row("HTTPS nginx saturation", "-", "-",
                         "not measured: TLS capture not built yet (no weft_ssl_* program ran)",
                         ">= 0.80", None))
    shop = r["shop"]
    lines.append(row("3. Python shop (store-fe -> catalog/auth -> stock), wrk (req/s)",
                     "%.1f" % shop["rps"]["untraced"], "%.1f" % shop["rps"]["traced"],
                     "%.3f" % shop["ratio"], ">= 0.97", shop["ratio"] >= 0.97))
    lines.append(row("4. agent CPU per traced request (us, nginx saturation)", "-", "-",
                     "%.2f" % agent["agent_us_per_request"], "<= 5", agent["agent_us_per_request"]
                     <= 5))
    lines.append(row("4. in-kernel time per request (ns, all weft programs)", "-", "-",
                     "%.0f" % agent["kernel_ns_per_request"], "<= 1000",
                     agent["kernel_ns_per_request"] <= 1000))
    cap = (r["capture"]["results"] or {}).get("socket")
    if cap:
        ns = cap["ns_per_iteration"]
        lines.append(row("5. untraced process's socket loop while weft traces others (ns/iter)",
                         "%.0f" % ns["none"], "%.0f" % ns["untraced"],
                         "%.3f" % cap["untraced_ratio"], "<= 1.05", cap["untraced_ratio"] <= 1.05))
    else:
        lines.append(row("5. untraced process's socket loop", "-", "-", "capture bench failed",
                         "<= 1.05", None))
    rss_mib = agent["rss_kib"] / 1024
    lines.append(row("6. agent RSS under nginx saturation (MiB)", "-", "-", "%.1f" % rss_mib,
                     "<= 100", rss_mib <= 100))
    idle = r["idle"]
    idle_mib = idle["rss_kib"] / 1024
    lines.append(row("6. agent RSS with %d idle traced connections (MiB)" % idle["connections"],
                     "-", "-", "%.1f (%.1f before they opened)" % (idle_mib,
                                                                 idle["rss_kib_before"] / 1024),
                     "<= 100", idle_mib <= 100))
    lines.append(row("6. BPF map memory, bytes_memlock of weft's maps (MiB)", "-", "-",
                     "%.1f" % (agent["map_memlock_bytes"] / 2**20), "reported", None))
    lines.append(row("7. lost events at nginx saturation (all traced rounds)", "-", "-",
                     "%d of %d" % (agent["lost"], agent["events"]), "0", agent["lost"] == 0))
    pipe = next(((name, what) for name, what in PIPELINE_BENCHMARKS.items()
                 if name in (r["pipeline"] or {})), None)
    if pipe:
        per_core = r["pipeline"][pipe[0]]["items_per_second"]
        lines.append(row("8. userspace pipeline, keep-alive exchanges/s per core (%s)" % pipe[1],
                         "-", "-", "%.0f" % per_core, ">= 500000", per_core >= 500000))
    else:
        lines.append(row("8. userspace pipeline", "-", "-", "http1_bench not built", ">= 500000",
                         None))
    prop = r.get("propagation") or {}
    if prop.get("throughput_ratio"):
        lines.append(row("issue 8: wrk keep-alive loop, --propagate=headers vs none, req/s",
                         "%.0f" % prop["rps"]["plain"], "%.0f" % prop["rps"]["propagate"],
                         "%.3f" % prop["throughput_ratio"], "reported", None))
        if prop.get("p99_ratio"):
            lines.append(row("issue 8: same, p99 latency (us)", "%.0f" % prop["p99_us"]["plain"],
                             "%.0f" % prop["p99_us"]["propagate"], "%.3f" % prop["p99_ratio"],
                             "reported", None))
    else:
        lines.append(row("issue 8: propagation bench", "-", "-",
                         "failed: %s" % prop.get("error", "not run"), "reported", None))
    node = r.get("node") or {}
    if node.get("hooked_ratio"):
        lines.append(row("Node.js front -> back, wrk saturation: traced vs untraced, req/s",
                         "%.0f" % node["rps"]["untraced"], "%.0f" % node["rps"]["traced"],
                         "%.3f" % node["traced_ratio"], "reported", None))
        lines.append(row("same, traced with --node-links inspector vs untraced, req/s (%.1f hook "
                         "messages per request%s)" % (
                             node["hook_messages_per_request"] or 0,
                             "" if node.get("hooked_every_round") else "; not hooked in every round"),
                         "%.0f" % node["rps"]["untraced"], "%.0f" % node["rps"]["hooked"],
                         "%.3f" % node["hooked_ratio"], "reported", None))
    elif node:
        lines.append(row("Node.js links bench", "-", "-",
                         "failed: %s" % node.get("error", "not run"), "reported", None))
    lines.append("")
    lines.append("Noise (min-max over rounds): nginx saturation untraced %s / traced %s req/s; "
                 "fixed-rate p99 untraced %s / traced %s us; shop untraced %s / traced %s req/s."
                 % (spread(sat["samples"]["untraced"], "rps"),
                    spread(sat["samples"]["traced"], "rps"),
                    spread(fixed["samples"]["untraced"], "p99_us"),
                    spread(fixed["samples"]["traced"], "p99_us"),
                    spread(shop["samples"]["untraced"], "rps", 1),
                    spread(shop["samples"]["traced"], "rps", 1)))
    lines.append("")
    lines.append("### Where the traced nginx request's cost goes (median of traced rounds)")
    lines.append("")
    lines.append("| BPF program | ns per run | runs per request | ns per request |")
    lines.append("|---|---|---|---|")
    for name, p in sorted(agent["programs"].items(), key=lambda kv: -kv[1]["ns_per_request"]):
        lines.append("| %s | %.0f | %.2f | %.0f |" % (name, p["ns_per_run"], p["runs_per_request"],
                                                    p["ns_per_request"]))
    lines.append("")
    breakdown = r["nginx"].get("cost_breakdown")
    if breakdown:
        names = sorted({n for c in breakdown.values() for n, p in c["programs"].items()
                        if p["runs"] >= c.get("requests", 0) * 0.5 and p["runs"] > 1000})
        lines.append("One traced saturation run per variant (single runs: noisy), ns per program "
                     "run:")
        lines.append("")
        lines.append("| variant | req/s | kernel ns/request | agent us/request | "
                     + " | ".join(names) + " |")
        lines.append("|---|---|---|---|" + "---|" * len(names))
        for variant, c in breakdown.items():
            cells = ["%.0f" % (c["programs"][n]["ns"] / c["programs"][n]["runs"])
                     if n in c["programs"] else "-" for n in names]
            lines.append("| %s | %.0f | %.0f | %.2f | %s |" % (
                variant, c["rps"], c["kernel_ns_per_request"], c["agent_us_per_request"],
                " | ".join(cells)))
        lines.append("")
    if https and https["tls_programs_ran"]:
        ha = r["https_agent"]
        lines.append("HTTPS (median of traced rounds): %.2f us agent CPU and %.0f ns in BPF "
                     "programs per request (uprobe trap and return-hijack cost is outside these "
                     "figures):" % (ha["agent_us_per_request"], ha["kernel_ns_per_request"]))
        lines.append("")
        lines.append("| BPF program | ns per run | runs per request | ns per request |")
        lines.append("|---|---|---|---|")
        for name, p in sorted(ha["programs"].items(), key=lambda kv: -kv[1]["ns_per_request"]):
            if p["runs_per_request"] >= 0.01:
                lines.append("| %s | %.0f | %.2f | %.0f |" % (
                    name, p["ns_per_run"], p["runs_per_request"], p["ns_per_request"]))
        lines.append("")
        floor = r.get("tls_trap_floor")
        if floor:
            lines.append("Probe traps: %.2f entry and %.2f return probe hits per request. At this "
                         "machine's cost per hit (below) they alone add %.1f us of CPU per "
                         "request, so with these probes the HTTPS CPU ratio cannot exceed %.3f."
                         % (floor["entries_per_request"], floor["returns_per_request"],
                            floor["floor_us"], floor["best_cpu_ratio"]))
            lines.append("")
    costs = r.get("uprobe_cost") or {}
    if costs.get("table"):
        lines.append("#### What one uprobe hit costs on this machine (weft-bench-uprobe-cost, "
                     "CPU time, median of 3 rounds)")
        lines.append("")
        lines.append(costs["table"].strip())
        lines.append("")
    elif costs:
        lines.append("uprobe cost bench failed: %s" % costs.get("error"))
        lines.append("")
    lines.append("Agent: %.2f us CPU per request; %.0f context switches per second (%.4f per "
                 "request)." % (agent["agent_us_per_request"], agent["switches_per_second"],
                                agent["switches_per_request"]))
    lines.append("")
    if r["capture"]["tables"]:
        lines.append(r["capture"]["tables"].strip())
        lines.append("")
    if r["pipeline"]:
        lines.append("### Userspace pipeline (Google Benchmark)")
        lines.append("")
        lines.append("| benchmark | items/s | CPU ns per item |")
        lines.append("|---|---|---|")
        for name, b in r["pipeline"].items():
            if b["items_per_second"]:
                lines.append("| %s | %.0f | %.0f |" % (name, b["items_per_second"],
                                                      1e9 / b["items_per_second"]))
    return "\n".join(lines)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--json", required=True)
    args = ap.parse_args()
    if os.geteuid() != 0:
        print("bench/run needs root: weft loads eBPF programs", file=sys.stderr)
        return 2
    s = settings()
    started = time.time()
    r = {"machine": machine(), "settings": s}

    def step(name, fn):
        t = time.time()
        print("bench: %s ..." % name, file=sys.stderr, flush=True)
        value = fn()
        print("bench: %s done in %.0f s" % (name, time.time() - t), file=sys.stderr, flush=True)
        return value

    try:
        r["nginx"] = step("nginx (scenarios 1, 2, 4, 6, 7)", lambda: nginx_bench.run(
            s["rounds"], s["saturation_seconds"], s["fixed_rounds"], s["fixed_seconds"]))
        r["nginx_agent"] = summarize_agent(r["nginx"]["saturation"]["agent"])
        r["https"] = step("nginx over HTTPS", lambda: nginx_bench.run_https(
            s["https_rounds"], s["saturation_seconds"]))
        r["https_agent"] = summarize_agent(r["https"]["agent"])
        r["shop"] = step("python shop (scenario 3)",
                         lambda: shop_bench.run(s["shop_rounds"], s["shop_seconds"]))
        r["idle"] = step("idle connections (scenario 6)",
                         lambda: idle_conns.measure(s["idle_connections"]))
        r["propagation"] = step("traceparent propagation (issue 8)",
                                lambda: propagation_bench(s))
        r["node"] = step("Node.js request links", lambda: node_bench(s))
    finally:
        harness.enable_bpf_stats(False)
    r["capture"] = step("capture loop (scenario 5)", lambda: capture_bench(s))
    r["pipeline"] = step("userspace pipeline (scenario 8)", lambda: pipeline_bench(s))
    r["uprobe_cost"] = step("uprobe cost per hit (HTTPS)", uprobe_cost)
    if r["https"]["tls_programs_ran"]:
        r["tls_trap_floor"] = tls_trap_floor(r["https_agent"],
                                             r["https"]["cpu_us_per_request"]["untraced"],
                                             r["uprobe_cost"])
    r["duration_s"] = time.time() - started
    r["load_average_at_end"] = os.getloadavg()
    text = render(r)
    print(text)
    print()
    print("bench: whole run %.0f s; load average at end %s" % (
        r["duration_s"], " ".join("%.2f" % x for x in r["load_average_at_end"])))
    r["table"] = text
    with open(args.json, "w") as f:
        json.dump(r, f, indent=2)
    return 0


if __name__ == "__main__":
    sys.exit(main())
