"""100 sequential requests on ONE keep-alive connection to a traced threaded
server give exactly 100 SERVER spans, each its own trace, each with the path
and status of its own request."""
import http.client
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import e2elib  # noqa: E402
from e2elib import attr, describe, stop_after_spans  # noqa: E402
import weftlib  # noqa: E402

REQUESTS = 100
STATUSES = (200, 201, 202, 203, 404, 409)  # keepalive_service.py's /item/<n> answers


def main():
    weftlib.require_bpf()
    f = weftlib.Failures()
    rx = e2elib.start_receiver()
    try:
        with e2elib.Processes() as procs:
            port = weftlib.free_port()
            server = procs.start_test_service("items", port, source="keepalive_service.py")
            weft = e2elib.start_weft([server.pid], env={
                "OTEL_EXPORTER_OTLP_ENDPOINT": rx.grpc_endpoint,
                "OTEL_EXPORTER_OTLP_PROTOCOL": "grpc"})
            with weft:
                weft.wait_ready()
                conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
                local_ports, statuses, reused = set(), [], True
                first_sock = None
                for i in range(REQUESTS):
                    conn.request("GET", "/item/%d" % i)
                    if first_sock is None:
                        first_sock = conn.sock
                    reused = reused and conn.sock is first_sock
                    local_ports.add(conn.sock.getsockname()[1])
                    reply = conn.getresponse()
                    reply.read()
                    statuses.append(reply.status)
                conn.close()
                f.check(reused and len(local_ports) == 1,
                        "all %d requests went over one connection (%s)" % (REQUESTS, local_ports))
                f.check(statuses == [STATUSES[i % len(STATUSES)] for i in range(REQUESTS)],
                        "the server answered each path with its status")
                stop_after_spans(f, weft, rx, count=REQUESTS, timeout=15)
        spans = rx.spans()
    finally:
        rx.stop(check=False)

    servers = [s for s in spans if s["kind"] == "SERVER"]
    f.check(len(spans) == REQUESTS and len(servers) == REQUESTS,
            "exactly %d SERVER spans and nothing else (%d spans, %d SERVER)" %
            (REQUESTS, len(spans), len(servers)))
    f.check(len({s["trace_id"] for s in servers}) == len(servers),
            "each request has its own trace id")
    f.check(all(s["parent_span_id"] == "" and attr(s, "weft.link.source") == "none"
                for s in servers), "every span is a root (untraced client), link none")
    paths = sorted(attr(s, "url.path") for s in servers)
    f.check(paths == sorted("/item/%d" % i for i in range(REQUESTS)),
            "url.path /item/0../item/99, each once")
    wrong = [describe(s) for s in servers
             if attr(s, "http.response.status_code") !=
             STATUSES[int(str(attr(s, "url.path")).rsplit("/", 1)[-1]) % len(STATUSES)]]
    f.check(not wrong, "each span's status is its own request's (%s)" % wrong[:5])
    f.check(all(s["status_code"] != "ERROR" for s in servers),
            "4xx answers do not make SERVER spans ERROR")
    f.check(all(attr(s, "client.port") in local_ports for s in servers),
            "every span's client.port is the one connection's port")
    f.check(all(s["name"] == "GET /item/{id}" and attr(s, "http.route") == "/item/{id}"
                for s in servers), "names and routes are 'GET /item/{id}'")
    by_start = sorted(servers, key=lambda s: s["start_unix_nano"])
    f.check([attr(s, "url.path") for s in by_start] == ["/item/%d" % i for i in range(REQUESTS)],
            "spans in start order follow the request order")
    f.check(all(a["end_unix_nano"] <= b["start_unix_nano"] for a, b in zip(by_start, by_start[1:])),
            "sequential requests give non-overlapping spans")
    f.finish()


if __name__ == "__main__":
    main()
