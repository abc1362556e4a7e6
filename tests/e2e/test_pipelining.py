"""HTTP/1.1 pipelining: five requests written in ONE send on a keep-alive
connection, then three more one at a time. Every request gets its own
SERVER span and trace, with its own path and status, in order."""
import os
import socket
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import e2elib  # noqa: E402
from e2elib import attr, describe, stop_after_spans  # noqa: E402
import weftlib  # noqa: E402

STATUSES = (200, 201, 202, 203, 404, 409)  # keepalive_service.py's /item/<n> answers
PIPELINED = list(range(5))
SEQUENTIAL = [5, 6, 7]


def request_bytes(n):
    return ("GET /item/%d HTTP/1.1\r\nHost: 127.0.0.1\r\nUser-Agent: pipeliner\r\n\r\n" %
            n).encode()


def read_response(reader):
    """Reads one response (Content-Length framed) from a buffered reader
    shared by the whole connection; returns its status."""
    status = int(reader.readline().split()[1])
    length = 0
    while True:
        line = reader.readline()
        if line in (b"\r\n", b"\n", b""):
            break
        name, _, value = line.decode("latin-1").partition(":")
        if name.strip().lower() == "content-length":
            length = int(value.strip())
    reader.read(length)
    return status


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
                with socket.create_connection(("127.0.0.1", port), timeout=10) as sock:
                    sock.sendall(b"".join(request_bytes(n) for n in PIPELINED))
                    reader = sock.makefile("rb")
                    got = [read_response(reader) for _ in PIPELINED]
                    for n in SEQUENTIAL:
                        sock.sendall(request_bytes(n))
                        got.append(read_response(reader))
                want = [STATUSES[n % len(STATUSES)] for n in PIPELINED + SEQUENTIAL]
                f.check(got == want, "the server answered all 8 in order (%s)" % got)
                stop_after_spans(f, weft, rx, count=len(want), timeout=15)
        spans = rx.spans()
    finally:
        rx.stop(check=False)

    ordered = sorted(spans, key=lambda s: s["start_unix_nano"])
    f.check(len(spans) == len(want), "%d spans (%s)" % (len(want), [describe(s) for s in ordered]))
    f.check(sorted(attr(s, "url.path") for s in spans) ==
            sorted("/item/%d" % n for n in PIPELINED + SEQUENTIAL), "each request has one span")
    wrong = [describe(s) for s in spans if attr(s, "http.response.status_code") !=
             STATUSES[int(str(attr(s, "url.path")).rsplit("/", 1)[-1]) % len(STATUSES)]]
    f.check(not wrong, "each span carries its own request's status (%s)" % wrong)
    f.check(len({s["trace_id"] for s in spans}) == len(spans), "one trace per request")
    f.check(all(s["parent_span_id"] == "" and s["kind"] == "SERVER" for s in spans),
            "all root SERVER spans")
    f.check(all(attr(s, "user_agent.original") == "pipeliner" for s in spans),
            "every span has the request's user agent")
    f.check([attr(s, "url.path") for s in ordered] ==
            ["/item/%d" % n for n in PIPELINED + SEQUENTIAL], "spans start in request order")
    f.finish()


if __name__ == "__main__":
    main()
