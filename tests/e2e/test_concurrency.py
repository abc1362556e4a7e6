"""8 client threads x 10 requests at once to a traced threaded Flask server
give 80 SERVER spans: each path once, each with its own request's status and
client port, none mixed up with a concurrent request."""
import http.client
import os
import sys
import threading

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import e2elib  # noqa: E402
from e2elib import attr, describe, stop_after_spans  # noqa: E402
import weftlib  # noqa: E402

THREADS = 8
PER_THREAD = 10
STATUSES = (200, 201, 202, 203, 404, 409)  # service.py's /item/<n> answers


def send_all(port):
    """Returns {path: (status, client port)} for every request sent."""
    sent = {}
    lock = threading.Lock()
    start = threading.Barrier(THREADS)

    def client(t):
        start.wait(10)
        for j in range(PER_THREAD):
            path = "/item/%d" % (t * PER_THREAD + j)
            conn = http.client.HTTPConnection("127.0.0.1", port, timeout=15)
            try:
                conn.request("GET", path)
                local_port = conn.sock.getsockname()[1]
                reply = conn.getresponse()
                reply.read()
                with lock:
                    sent[path] = (reply.status, local_port)
            finally:
                conn.close()

    threads = [threading.Thread(target=client, args=(t,)) for t in range(THREADS)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    return sent


def main():
    weftlib.require_bpf()
    f = weftlib.Failures()
    total = THREADS * PER_THREAD
    rx = e2elib.start_receiver()
    try:
        with e2elib.Processes() as procs:
            port = weftlib.free_port()
            server = procs.start_test_service("items", port)
            weft = e2elib.start_weft([server.pid], env={
                "OTEL_EXPORTER_OTLP_ENDPOINT": rx.grpc_endpoint,
                "OTEL_EXPORTER_OTLP_PROTOCOL": "grpc"})
            with weft:
                weft.wait_ready()
                sent = send_all(port)
                f.check(len(sent) == total, "%d requests answered (%d)" % (total, len(sent)))
                f.check(all(status == STATUSES[int(p.rsplit("/", 1)[-1]) % len(STATUSES)]
                            for p, (status, _) in sent.items()),
                        "the server answered each path with its status")
                stop_after_spans(f, weft, rx, count=total, timeout=15)
        spans = rx.spans()
    finally:
        rx.stop(check=False)

    servers = [s for s in spans if s["kind"] == "SERVER"]
    f.check(len(spans) == total and len(servers) == total,
            "exactly %d SERVER spans and nothing else (%d spans, %d SERVER)" %
            (total, len(spans), len(servers)))
    paths = [attr(s, "url.path") for s in servers]
    f.check(sorted(paths) == sorted(sent), "each path seen exactly once")
    f.check(len({s["trace_id"] for s in servers}) == len(servers), "one trace id per request")
    f.check(all(s["parent_span_id"] == "" for s in servers), "all roots (the client is untraced)")
    mixed = [describe(s) for s in servers
             if attr(s, "url.path") in sent and
             (attr(s, "http.response.status_code"), attr(s, "client.port")) !=
             sent[attr(s, "url.path")]]
    f.check(not mixed, "every span pairs its path with its own status and client port (%s)" %
            mixed[:5])
    f.check(all(s["start_unix_nano"] <= s["end_unix_nano"] for s in servers), "start <= end")
    f.finish()


if __name__ == "__main__":
    main()
