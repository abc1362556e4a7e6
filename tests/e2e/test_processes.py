"""`--pid` covers a process and its descendants, including ones born after
weft started: a forking server (a fresh child per request), a service run
under a shell wrapper, and a service the wrapper starts only later. Each
span names the service after the process that served it."""
import os
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import e2elib  # noqa: E402
from e2elib import attr, describe, resource_service, stop_after_spans  # noqa: E402
import weftlib  # noqa: E402

PER_CASE = 5

FORKER = """
import sys
from http.server import BaseHTTPRequestHandler, HTTPServer
from socketserver import ForkingMixIn


class Handler(BaseHTTPRequestHandler):
    def do_GET(self):
        body = self.path.encode()
        self.send_response(200)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args):
        pass


class Server(ForkingMixIn, HTTPServer):
    pass


Server(("127.0.0.1", int(sys.argv[1])), Handler).serve_forever()
"""


def main():
    weftlib.require_bpf()
    f = weftlib.Failures()
    rx = e2elib.start_receiver()
    try:
        with e2elib.Processes() as procs:
            fork_port, wrapped_port, late_port = (weftlib.free_port() for _ in range(3))
            forker = procs.start_service("forker", FORKER, fork_port)
            with open(os.path.join(e2elib._HERE, "service.py")) as src:
                service = src.read()
            wrapped = procs.write_script("wrapped", service)
            late = procs.write_script("late", service)
            go = os.path.join(procs.tmpdir.name, "go")
            # `; true` keeps the shell alive as the parent (no exec).
            wrapper = procs.start(["/bin/sh", "-c", "%s %s %d; true" % (
                weftlib.PYTHON, wrapped, wrapped_port)], log_name="wrapped.log")
            late_wrapper = procs.start(["/bin/sh", "-c",
                                        "while [ ! -e %s ]; do sleep 0.05; done; %s %s %d; true" %
                                        (go, weftlib.PYTHON, late, late_port)],
                                       log_name="late.log")
            weftlib.wait_for_port(wrapped_port, timeout=20)
            weft = e2elib.start_weft([forker.pid, wrapper.pid, late_wrapper.pid], env={
                "OTEL_EXPORTER_OTLP_ENDPOINT": rx.grpc_endpoint,
                "OTEL_EXPORTER_OTLP_PROTOCOL": "grpc"})
            with weft:
                weft.wait_ready()
                open(go, "w").close()
                weftlib.wait_for_port(late_port, timeout=20)
                time.sleep(0.2)
                statuses = []
                for name, port in (("forker", fork_port), ("wrapped", wrapped_port),
                                   ("late", late_port)):
                    for i in range(PER_CASE):
                        statuses.append(e2elib.http_get(
                            "http://127.0.0.1:%d/%s/%d" % (port, name, i))[0])
                f.check(statuses.count(404) + statuses.count(200) == 3 * PER_CASE,
                        "all requests answered (%s)" % statuses)
                stop_after_spans(f, weft, rx, count=3 * PER_CASE, timeout=15)
        spans = rx.spans()
    finally:
        rx.stop(check=False)

    f.check(len(spans) == 3 * PER_CASE, "%d spans (%d)" % (3 * PER_CASE, len(spans)))
    for name, what in (("forker", "a forking server's per-request children"),
                       ("wrapped", "a service started by a traced shell before weft"),
                       ("late", "a service started by a traced shell after weft")):
        mine = [s for s in spans if str(attr(s, "url.path")).startswith("/%s/" % name)]
        f.check(sorted(attr(s, "url.path") for s in mine) ==
                ["/%s/%d" % (name, i) for i in range(PER_CASE)],
                "%s are traced: %d of %d requests have a span" % (what, len(mine), PER_CASE))
        services = sorted({str(resource_service(s)) for s in mine})
        if services != [name]:
            print("resources of %s spans: %s" % (name, [s["resource"] for s in mine]))
        f.check(services == [name], "%s: service.name %s (%s)" % (name, name, services))
        pids = {s["resource"].get("process.pid") for s in mine}
        if name == "forker":
            f.check(len(pids) == PER_CASE and forker.pid not in pids,
                    "forker: each span's process.pid is its own child (%s)" % sorted(map(str, pids)))
    f.finish()


if __name__ == "__main__":
    main()
