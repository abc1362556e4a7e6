"""Scenarios 1, 2, 4, 6 (steady state) and 7: Debian nginx (one worker)
serving a 1 KiB file on loopback, traced and untraced in alternating rounds.

  saturation : wrk over keep-alive; throughput ratio, and while traced the
               agent's CPU, in-kernel time, wakeups, RSS and lost events
  fixed rate : the open-loop client at half the untraced saturation rate;
               p50 and p99 latency ratios
"""
import json
import os
import shutil
import signal
import subprocess
import tempfile

import harness

OPEN_LOOP = os.path.join(harness.BUILD, "bench", "weft-bench-open-loop")

NGINX_CONF = """daemon off;
worker_processes 1;
pid {dir}/nginx.pid;
error_log {dir}/error.log warn;
events {{ worker_connections 4096; }}
http {{
  access_log off;
  keepalive_requests 10000000;
  client_body_temp_path {dir}/body;
  proxy_temp_path {dir}/proxy;
  fastcgi_temp_path {dir}/fastcgi;
  uwsgi_temp_path {dir}/uwsgi;
  scgi_temp_path {dir}/scgi;
  server {{
    listen 127.0.0.1:{port}{tls};
    root {dir}/www;{status}
  }}
}}
"""

TLS_SERVER = """ ssl;
    ssl_certificate {dir}/cert.pem;
    ssl_certificate_key {dir}/key.pem;
    ssl_protocols TLSv1.3"""


# stub_status: nginx's own count of requests served (traced_flip.py).
STATUS_LOCATION = """
    location = /status { stub_status; }"""


class Nginx:
    """A throw-away nginx: config, document root and logs in a temp dir;
    with tls=True it serves HTTPS (TLS 1.3, self-signed P-256 certificate);
    with status=True, /status is nginx's stub_status page."""

    def __init__(self, tls=False, status=False):
        self.dir = tempfile.mkdtemp(prefix="weft-bench-nginx.")
        os.chmod(self.dir, 0o755)  # workers run as nobody
        www = os.path.join(self.dir, "www")
        os.mkdir(www)
        os.chmod(www, 0o755)
        with open(os.path.join(www, "1k.html"), "w") as f:
            f.write("x" * 1023 + "\n")
        os.chmod(os.path.join(www, "1k.html"), 0o644)
        self.port = harness.free_port()
        if tls:
            subprocess.run(["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt",
                            "ec_paramgen_curve:prime256v1", "-nodes", "-days", "2", "-subj",
                            "/CN=localhost", "-keyout", os.path.join(self.dir, "key.pem"),
                            "-out", os.path.join(self.dir, "cert.pem")],
                           check=True, capture_output=True)
        conf = os.path.join(self.dir, "nginx.conf")
        with open(conf, "w") as f:
            f.write(NGINX_CONF.format(dir=self.dir, port=self.port,
                                      tls=TLS_SERVER.format(dir=self.dir) if tls else "",
                                      status=STATUS_LOCATION if status else ""))
        self.proc = subprocess.Popen(["nginx", "-p", self.dir, "-c", conf],
                                     stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        harness.wait_for_port(self.port)
        self.url = "%s://127.0.0.1:%d/1k.html" % ("https" if tls else "http", self.port)

    def close(self):
        self.proc.send_signal(signal.SIGQUIT)
        try:
            self.proc.wait(10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
        shutil.rmtree(self.dir, ignore_errors=True)


def saturation(nginx, rounds, seconds):
    samples = {"untraced": [], "traced": []}
    agent = []
    for order in harness.ab_orders(rounds):
        for config in order:
            if config == "untraced":
                samples[config].append(harness.run_wrk(nginx.url, seconds,
                                                       server_pid=nginx.proc.pid))
                continue
            weft = harness.Weft([nginx.proc.pid])
            try:
                before = weft.snapshot()
                result = harness.run_wrk(nginx.url, seconds, server_pid=nginx.proc.pid)
                after = weft.snapshot()
                # The whole system's CPU per request: nginx and wrk (probes
                # run in their context) plus the agent.
                result["cpu_us_per_request"] += (after["cpu_s"] - before["cpu_s"]) * 1e6 / max(
                    result["requests"], 1)
                rss = weft.rss_kib()
                memlock = weft.map_memlock_bytes()
            finally:
                counters = weft.stop()
            samples[config].append(result)
            cost = harness.delta(before, after, result["requests"])
            cost.update(rss_kib=rss, map_memlock_bytes=memlock, requests=result["requests"],
                        seconds=seconds, **counters)
            agent.append(cost)
    rps = {c: harness.median([s["rps"] for s in v]) for c, v in samples.items()}
    return {
        "rps": rps,
        "ratio": harness.paired_ratio(samples, "rps"),
        "ratio_of_medians": rps["traced"] / rps["untraced"],
        # Untraced over traced CPU per request: the throughput ratio a
        # dedicated machine would show, much less sensitive to other load.
        "cpu_us_per_request": {c: harness.median([s["cpu_us_per_request"] for s in v])
                               for c, v in samples.items()},
        "cpu_ratio": harness.median([u["cpu_us_per_request"] / t["cpu_us_per_request"]
                                     for u, t in zip(samples["untraced"], samples["traced"])]),
        "samples": samples,
        "agent": agent,
    }


def open_loop(nginx, rate, seconds):
    out = subprocess.run([OPEN_LOOP, "--port", str(nginx.port), "--path", "/1k.html",
                          "--rate", str(rate), "--duration", str(seconds), "--warmup", "1"],
                         capture_output=True, text=True)
    return json.loads(out.stdout)


def fixed_rate(nginx, rate, rounds, seconds):
    samples = {"untraced": [], "traced": []}
    for order in harness.ab_orders(rounds):
        for config in order:
            weft = harness.Weft([nginx.proc.pid]) if config == "traced" else None
            try:
                samples[config].append(open_loop(nginx, rate, seconds))
            finally:
                if weft:
                    weft.stop()
    med = {c: {k: harness.median([s[k] for s in v]) for k in ("p50_us", "p99_us", "achieved_rate")}
           for c, v in samples.items()}
    return {
        "rate": rate,
        "latency": med,
        "p50_ratio": harness.paired_ratio(samples, "p50_us"),
        "p99_ratio": harness.paired_ratio(samples, "p99_us"),
        "p50_ratio_of_medians": med["traced"]["p50_us"] / med["untraced"]["p50_us"],
        "p99_ratio_of_medians": med["traced"]["p99_us"] / med["untraced"]["p99_us"],
        "samples": samples,
    }


# Traced saturation runs with one cost driver changed each, to tell per-byte
# from per-event cost; "filter only" is nginx untraced while weft traces an
# idle process: what the probes cost a process weft does not trace.
VARIANTS = {
    "default": [],
    "capture 64 bytes": ["--capture-bytes", "64"],
    "no trace context": ["--no-trace-context"],
}


def cost_breakdown(nginx, seconds):
    out = {}
    for name, args in list(VARIANTS.items()) + [("filter only", None)]:
        sleeper = subprocess.Popen(["sleep", "600"]) if args is None else None
        weft = harness.Weft([sleeper.pid] if sleeper else [nginx.proc.pid], args or [])
        try:
            before = weft.snapshot()
            result = harness.run_wrk(nginx.url, seconds)
            after = weft.snapshot()
        finally:
            weft.stop()
            if sleeper:
                sleeper.kill()
                sleeper.wait()
        cost = harness.delta(before, after, result["requests"])
        cost["rps"] = result["rps"]
        out[name] = cost
    return out


def run(rounds, saturation_seconds, fixed_rounds, fixed_seconds):
    nginx = Nginx()
    try:
        harness.run_wrk(nginx.url, 1)  # warm caches before the first measured round
        # BPF run-time stats read the clock twice per program run: on where
        # in-kernel time is reported (their cost is then in the traced
        # figures), off for the latency rounds.
        harness.enable_bpf_stats(True)
        sat = saturation(nginx, rounds, saturation_seconds)
        rate = int(sat["rps"]["untraced"] / 2)
        harness.enable_bpf_stats(False)
        fixed = fixed_rate(nginx, rate, fixed_rounds, fixed_seconds)
        harness.enable_bpf_stats(True)
        breakdown = cost_breakdown(nginx, saturation_seconds)
    finally:
        harness.enable_bpf_stats(False)
        nginx.close()
    return {"saturation": sat, "fixed_rate": fixed, "cost_breakdown": breakdown}


def run_https(rounds, seconds):
    """Saturation over HTTPS (keep-alive: one handshake per wrk connection).
    TLS capture is detected by weft loading programs named weft_ssl_*."""
    nginx = Nginx(tls=True)
    try:
        harness.run_wrk(nginx.url, 1)
        harness.enable_bpf_stats(True)
        sat = saturation(nginx, rounds, seconds)
    finally:
        harness.enable_bpf_stats(False)
        nginx.close()
    ssl_runs = sum(p["runs"] for cost in sat["agent"] for name, p in cost["programs"].items()
                   if "ssl" in name)
    sat["tls_programs_ran"] = ssl_runs
    return sat


if __name__ == "__main__":
    print(json.dumps(run(2, 3, 2, 4), indent=2))
