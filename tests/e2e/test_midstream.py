"""weft started while connections are already open: a keep-alive
connection that served requests before weft attached, and a traced client
whose pooled connection to its backend predates weft. The requests sent
after weft is ready get complete, correctly linked spans; nothing from
before appears."""
import http.client
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import e2elib  # noqa: E402
from e2elib import attr, describe, resource_service, stop_after_spans  # noqa: E402
import weftlib  # noqa: E402

STATUSES = (200, 201, 202, 203, 404, 409)  # keepalive_service.py's /item/<n> answers
BEFORE = [0, 1]
AFTER = [2, 3, 4, 5, 6]


def get(conn, path):
    conn.request("GET", path)
    reply = conn.getresponse()
    reply.read()
    return reply.status


def main():
    weftlib.require_bpf()
    f = weftlib.Failures()
    rx = e2elib.start_receiver()
    try:
        with e2elib.Processes() as procs:
            back_port, front_port = weftlib.free_port(), weftlib.free_port()
            back = procs.start_test_service("back", back_port, source="keepalive_service.py")
            front = procs.start_test_service("front", front_port, downstream_port=back_port)
            conn = http.client.HTTPConnection("127.0.0.1", back_port, timeout=10)
            for n in BEFORE:
                get(conn, "/item/%d" % n)
            local_port = conn.sock.getsockname()[1]
            # front's requests.Session opens its pooled connection to back now.
            e2elib.http_get("http://127.0.0.1:%d/session/100" % front_port)
            weft = e2elib.start_weft([front.pid, back.pid], env={
                "OTEL_EXPORTER_OTLP_ENDPOINT": rx.grpc_endpoint,
                "OTEL_EXPORTER_OTLP_PROTOCOL": "grpc"})
            with weft:
                weft.wait_ready()
                statuses = [get(conn, "/item/%d" % n) for n in AFTER]
                f.check(conn.sock.getsockname()[1] == local_port,
                        "the pre-existing connection was reused")
                conn.close()
                f.check(statuses == [STATUSES[n % len(STATUSES)] for n in AFTER],
                        "answered in order")
                for n in range(101, 104):
                    f.check(e2elib.http_get("http://127.0.0.1:%d/session/%d" %
                                            (front_port, n))[0] == 200,
                            "front /session/%d answered" % n)
                expected = len(AFTER) + 3 * 3
                stop_after_spans(f, weft, rx, count=expected, timeout=15)
        spans = rx.spans()
    finally:
        rx.stop(check=False)

    f.check(len(spans) == expected, "%d spans (%d: %s)" % (expected, len(spans),
                                                            [describe(s) for s in spans]))
    items = [s for s in spans if str(attr(s, "url.path")).startswith("/item/")]
    f.check(sorted(attr(s, "url.path") for s in items) == ["/item/%d" % n for n in AFTER],
            "mid-stream keep-alive connection: exactly the requests after weft started")
    f.check(all(s["kind"] == "SERVER" and attr(s, "client.port") == local_port and
                attr(s, "http.response.status_code") ==
                STATUSES[int(attr(s, "url.path").rsplit("/", 1)[-1]) % len(STATUSES)]
                for s in items), "mid-stream: SERVER spans with their own status and the peer port")
    by_id = {s["span_id"]: s for s in spans}
    for n in range(101, 104):
        back_span = [s for s in spans if resource_service(s) == "back" and
                     attr(s, "url.path") == "/place/%d" % n]
        if not f.check(len(back_span) == 1, "pooled pre-existing connection: back span for %d" % n):
            continue
        client = by_id.get(back_span[0]["parent_span_id"])
        server = by_id.get(client["parent_span_id"]) if client else None
        f.check(client is not None and client["kind"] == "CLIENT" and
                str(attr(client, "url.full")).endswith("/place/%d" % n) and server is not None and
                attr(server, "url.path") == "/session/%d" % n,
                "pooled pre-existing connection: back <- front CLIENT <- front SERVER for %d" % n)
    f.check(not [s for s in spans if str(attr(s, "url.path")).endswith("/100")],
            "nothing from before weft started")
    f.finish()


if __name__ == "__main__":
    main()
