"""Requests that never get an answer still become spans, marked as errors
with the reason: the server closed the connection (SERVER and the caller's
CLIENT span), and the server process exited mid-request."""
import http.client
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import e2elib  # noqa: E402
from e2elib import attr, describe, resource_service, stop_after_spans  # noqa: E402
import weftlib  # noqa: E402


def get_unanswered(port, path):
    """GET that the server never answers; True when the client saw it close."""
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    try:
        conn.request("GET", path)
        conn.getresponse()
        return False
    except (http.client.RemoteDisconnected, ConnectionError):
        return True
    finally:
        conn.close()


def main():
    weftlib.require_bpf()
    f = weftlib.Failures()
    rx = e2elib.start_receiver()
    try:
        with e2elib.Processes() as procs:
            back_port, front_port, doomed_port = (weftlib.free_port() for _ in range(3))
            back = procs.start_test_service("back", back_port, source="keepalive_service.py")
            front = procs.start_test_service("front", front_port, downstream_port=back_port)
            doomed = procs.start_test_service("doomed", doomed_port,
                                              source="keepalive_service.py")
            weft = e2elib.start_weft([front.pid, back.pid, doomed.pid], env={
                "OTEL_EXPORTER_OTLP_ENDPOINT": rx.grpc_endpoint,
                "OTEL_EXPORTER_OTLP_PROTOCOL": "grpc"})
            with weft:
                weft.wait_ready()
                f.check(get_unanswered(back_port, "/close"), "back closed GET /close unanswered")
                status, _ = e2elib.http_get("http://127.0.0.1:%d/proxy/close" % front_port)
                f.check(status == 500, "front answered 500 when its call was cut (%d)" % status)
                f.check(get_unanswered(doomed_port, "/exit"), "doomed exited on GET /exit")
                doomed.wait(10)
                stop_after_spans(f, weft, rx, count=5, timeout=15)
        spans = rx.spans()
    finally:
        rx.stop(check=False)

    f.check(len(spans) == 5, "5 spans (%s)" % [describe(s) for s in spans])
    closed = [s for s in spans if resource_service(s) == "back" and s["kind"] == "SERVER"]
    f.check(len(closed) == 2, "2 back SERVER spans for the two /close requests (%d)" % len(closed))
    for s in closed:
        f.check(s["status_code"] == "ERROR" and attr(s, "error.type") == "connection_closed" and
                attr(s, "http.response.status_code") is None,
                "server closed without answering: SERVER span ERROR, error.type "
                "connection_closed, no status code (%s, %r)" % (describe(s), attr(s, "error.type")))
    client = [s for s in spans if s["kind"] == "CLIENT"]
    if f.check(len(client) == 1, "one CLIENT span (front's call to /close)"):
        c = client[0]
        f.check(c["status_code"] == "ERROR" and
                attr(c, "error.type") in ("connection_closed", "connection_reset") and
                attr(c, "http.response.status_code") is None,
                "cut call: CLIENT span ERROR with a connection error.type (%s, %r)" %
                (describe(c), attr(c, "error.type")))
        under = [s for s in closed if s["parent_span_id"] == c["span_id"]]
        f.check(len(under) == 1, "the cut call's back SERVER span is the CLIENT span's child")
        parents = [s for s in spans if s["span_id"] == c["parent_span_id"]]
        f.check(len(parents) == 1 and attr(parents[0], "http.response.status_code") == 500 and
                attr(parents[0], "error.type") == "500" and parents[0]["status_code"] == "ERROR",
                "front SERVER span of the cut call: 500, ERROR")
    exited = [s for s in spans if attr(s, "url.path") == "/exit"]
    if f.check(len(exited) == 1, "one span for the request the exiting process never answered"):
        e = exited[0]
        f.check(resource_service(e) == "doomed",
                "the exited process's span keeps its service.name doomed (%r)" %
                resource_service(e))
        f.check(e["status_code"] == "ERROR" and attr(e, "error.type") == "process_exited",
                "process exited mid-request: SERVER span ERROR, error.type process_exited (%r)" %
                attr(e, "error.type"))
    f.finish()


if __name__ == "__main__":
    main()
