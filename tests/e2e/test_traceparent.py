"""A request that arrives with a W3C traceparent continues the caller's
trace: the SERVER span adopts its trace id and parent span id (link source
traceparent, tracestate kept), and the spans downstream stay in that trace.
An invalid traceparent (all-zero trace id) is ignored: a fresh root."""
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import e2elib  # noqa: E402
from e2elib import attr, describe, resource_service, stop_after_spans  # noqa: E402
import weftlib  # noqa: E402

TRACE_ID = "4bf92f3577b34da6a3ce929d0e0e4736"
PARENT_ID = "00f067aa0ba902b7"
TRACESTATE = "congo=t61rcWkgMzE,rojo=00f067aa0ba902b7"
INVALID = "00-%s-%s-01" % ("0" * 32, PARENT_ID)


def main():
    weftlib.require_bpf()
    f = weftlib.Failures()
    rx = e2elib.start_receiver()
    try:
        with e2elib.Processes() as procs:
            back_port, front_port = weftlib.free_port(), weftlib.free_port()
            back = procs.start_test_service("back", back_port)
            front = procs.start_test_service("front", front_port, downstream_port=back_port)
            weft = e2elib.start_weft([front.pid, back.pid], env={
                "OTEL_EXPORTER_OTLP_ENDPOINT": rx.grpc_endpoint,
                "OTEL_EXPORTER_OTLP_PROTOCOL": "grpc"})
            with weft:
                weft.wait_ready()
                status, _ = e2elib.http_get(
                    "http://127.0.0.1:%d/order/1" % front_port,
                    headers={"traceparent": "00-%s-%s-01" % (TRACE_ID, PARENT_ID),
                             "tracestate": TRACESTATE})
                f.check(status == 200, "GET /order/1 with traceparent answered 200")
                status, _ = e2elib.http_get("http://127.0.0.1:%d/order/2" % front_port,
                                            headers={"traceparent": INVALID})
                f.check(status == 200, "GET /order/2 with an invalid traceparent answered 200")
                stop_after_spans(f, weft, rx, count=6, timeout=15)
        spans = rx.spans()
    finally:
        rx.stop(check=False)

    f.check(len(spans) == 6, "6 spans exported (%s)" % [describe(s) for s in spans])
    continued = [s for s in spans if s["trace_id"] == TRACE_ID]
    f.check(len(continued) == 3, "the caller's trace id is on 3 spans (%s)" %
            [describe(s) for s in continued])
    front = [s for s in continued if resource_service(s) == "front" and s["kind"] == "SERVER"]
    client = [s for s in continued if resource_service(s) == "front" and s["kind"] == "CLIENT"]
    back = [s for s in continued if resource_service(s) == "back" and s["kind"] == "SERVER"]
    if f.check(len(front) == 1 and len(client) == 1 and len(back) == 1,
               "front SERVER, front CLIENT and back SERVER are in the caller's trace"):
        front, client, back = front[0], client[0], back[0]
        f.check(front["parent_span_id"] == PARENT_ID,
                "front SERVER's parent is the header's span id (%s)" % front["parent_span_id"])
        f.check(attr(front, "weft.link.source") == "traceparent",
                "front SERVER link source traceparent (%s)" % attr(front, "weft.link.source"))
        f.check(front["trace_state"] == TRACESTATE,
                "front SERVER keeps the tracestate (%r)" % front["trace_state"])
        f.check(front["span_id"] != PARENT_ID, "front SERVER has a span id of its own")
        f.check(attr(front, "url.path") == "/order/1", "front SERVER is /order/1")
        f.check(client["parent_span_id"] == front["span_id"],
                "front CLIENT's parent is front SERVER")
        f.check(back["parent_span_id"] == client["span_id"], "back SERVER's parent is front CLIENT")
        f.check(attr(back, "url.path") == "/place/1", "back SERVER is /place/1")

    fresh = [s for s in spans if s["trace_id"] != TRACE_ID]
    roots = [s for s in fresh if s["parent_span_id"] == ""]
    f.check(len(fresh) == 3 and len({s["trace_id"] for s in fresh}) == 1 and
            fresh[0]["trace_id"] != "0" * 32,
            "the invalid traceparent's request makes one new valid trace of 3 spans")
    f.check(len(roots) == 1 and attr(roots[0], "url.path") == "/order/2" and
            attr(roots[0], "weft.link.source") == "none",
            "its front SERVER is a root with link source none (%s)" %
            [describe(s) for s in roots])
    f.finish()


if __name__ == "__main__":
    main()
