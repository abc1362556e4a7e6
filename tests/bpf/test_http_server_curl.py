"""`weft run --events --pid` on `python3 -m http.server` shows each curl
request's bytes, with the SERVER context the kernel decided for it."""
import os
import subprocess
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "lib"))
import weftlib  # noqa: E402
from weftlib import data_bytes  # noqa: E402


def main():
    weftlib.require_bpf()
    f = weftlib.Failures()
    port = weftlib.free_port()
    server = subprocess.Popen([weftlib.PYTHON, "-m", "http.server", str(port), "--bind",
                               "127.0.0.1"], cwd="/", stdout=subprocess.DEVNULL,
                              stderr=subprocess.DEVNULL)
    try:
        weftlib.wait_for_port(port)
        with weftlib.Weft(["run", "--events", "--pid", str(server.pid)]) as weft:
            weft.wait_ready()
            paths = ["/", "/etc/hostname", "/nonexistent?q=1"]
            for p in paths:
                subprocess.run(["curl", "-s", "-o", "/dev/null", "http://127.0.0.1:%d%s" % (port, p)],
                               check=True)
            code, _ = weft.stop()
            events = weft.events()
        f.check(code == 0, "weft exits 0")
        requests = [e for e in events if e["type"] == "data" and e["direction"] == "ingress" and
                    e["tgid"] == server.pid]
        for p in paths:
            line = ("GET %s HTTP/1.1\r\n" % p).encode()
            match = [e for e in requests if data_bytes(e).startswith(line)]
            f.check(len(match) == 1, "request %s captured once (%d)" % (p, len(match)))
            if not match:
                continue
            e = match[0]
            f.check(b"User-Agent: curl/" in data_bytes(e), "%s: headers captured" % p)
            f.check(e["role"] == "server" and e["tuple"]["local_port"] == port,
                    "%s: server role and tuple" % p)
            ctx = e["context"]
            f.check(ctx is not None and ctx["starts_span"] and ctx["link_source"] == "none" and
                    ctx["parent_span_id"] == "" and len(ctx["trace_id"]) == 32,
                    "%s: the kernel started a root SERVER context (%s)" % (p, ctx))
            responses = [r for r in events if r["type"] == "data" and r["direction"] == "egress"
                         and r["conn_id"] == e["conn_id"]]
            f.check(responses and data_bytes(responses[0]).startswith(b"HTTP/1.0 "),
                    "%s: response captured" % p)
            f.check(responses and responses[0]["context"] and
                    responses[0]["context"]["span_id"] == ctx["span_id"],
                    "%s: response carries the request's context" % p)
        trace_ids = {e["context"]["trace_id"] for e in requests if e["context"]}
        f.check(len(trace_ids) == len(paths), "each request starts its own trace")
    finally:
        server.kill()
    f.finish()


if __name__ == "__main__":
    main()
