"""The two-service trace over IPv6 loopback: same tree and links as over
IPv4, with IPv6 addresses in the attributes (bare in *.address, bracketed
in url.full)."""
import http.client
import os
import socket
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import e2elib  # noqa: E402
from e2elib import attr, describe, resource_service, stop_after_spans  # noqa: E402
import weftlib  # noqa: E402


def main():
    weftlib.require_bpf()
    f = weftlib.Failures()
    rx = e2elib.start_receiver()
    try:
        with e2elib.Processes() as procs:
            back_port = weftlib.free_port(socket.AF_INET6)
            front_port = weftlib.free_port(socket.AF_INET6)
            back = procs.start_test_service("back", back_port, host="::1")
            front = procs.start_test_service("front", front_port, downstream_port=back_port,
                                             host="::1")
            weft = e2elib.start_weft([front.pid, back.pid], env={
                "OTEL_EXPORTER_OTLP_ENDPOINT": rx.grpc_endpoint,
                "OTEL_EXPORTER_OTLP_PROTOCOL": "grpc"})
            with weft:
                weft.wait_ready()
                conn = http.client.HTTPConnection("::1", front_port, timeout=15)
                conn.request("GET", "/order/9")
                client_port = conn.sock.getsockname()[1]
                reply = conn.getresponse()
                reply.read()
                conn.close()
                f.check(reply.status == 200, "GET http://[::1]/order/9 answered 200")
                stop_after_spans(f, weft, rx, count=3, timeout=15)
        spans = rx.spans()
    finally:
        rx.stop(check=False)

    f.check(len(spans) == 3, "3 spans (%s)" % [describe(s) for s in spans])
    front = [s for s in spans if resource_service(s) == "front" and s["kind"] == "SERVER"]
    client = [s for s in spans if resource_service(s) == "front" and s["kind"] == "CLIENT"]
    back = [s for s in spans if resource_service(s) == "back" and s["kind"] == "SERVER"]
    if not f.check(len(front) == len(client) == len(back) == 1, "front SERVER, CLIENT, back SERVER"):
        f.finish()
    front, client, back = front[0], client[0], back[0]
    f.check(len({s["trace_id"] for s in spans}) == 1, "one trace")
    f.check(front["parent_span_id"] == "" and client["parent_span_id"] == front["span_id"] and
            back["parent_span_id"] == client["span_id"], "parent chain front <- client <- back")
    f.check(attr(client, "weft.link.source") == "thread" and
            attr(back, "weft.link.source") == "peer-socket", "link sources thread, peer-socket")
    expect = [
        (front, "client.address", "::1"), (front, "client.port", client_port),
        (front, "network.peer.address", "::1"), (front, "network.peer.port", client_port),
        (front, "server.address", "::1"), (front, "server.port", front_port),
        (front, "url.path", "/order/9"),
        (client, "url.full", "http://[::1]:%d/place/9" % back_port),
        (client, "server.address", "::1"), (client, "server.port", back_port),
        (client, "network.peer.address", "::1"), (client, "network.peer.port", back_port),
        (back, "client.address", "::1"), (back, "network.peer.address", "::1"),
        (back, "server.address", "::1"), (back, "server.port", back_port),
    ]
    for span, key, want in expect:
        f.check(attr(span, key) == want, "%s %s: %s = %r (got %r)" %
                (resource_service(span), span["kind"], key, want, attr(span, key)))
    f.finish()


if __name__ == "__main__":
    main()
