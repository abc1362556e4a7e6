"""Bodies far larger than what weft captures per socket call: spans still
come out with exact body sizes (Content-Length, chunked, uploads, a CLIENT
download), and on a keep-alive connection the requests after a big body are
still parsed and paired right."""
import http.client
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import e2elib  # noqa: E402
from e2elib import attr, describe, resource_service, stop_after_spans  # noqa: E402
import weftlib  # noqa: E402

MB = 1 << 20


def request(port, method, path, body=None):
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    try:
        conn.request(method, path, body=body,
                     headers={"Content-Type": "application/octet-stream"} if body else {})
        reply = conn.getresponse()
        return reply.status, len(reply.read())
    finally:
        conn.close()


def main():
    weftlib.require_bpf()
    f = weftlib.Failures()
    rx = e2elib.start_receiver()
    keepalive_paths = ["/blob/%d" % (2 * MB), "/item/1", "/blob/%d" % (3 * MB + 7), "/item/2",
                       "/blob/0", "/item/3"]
    try:
        with e2elib.Processes() as procs:
            back_port, front_port, ka_port = (weftlib.free_port() for _ in range(3))
            back = procs.start_test_service("back", back_port)
            front = procs.start_test_service("front", front_port, downstream_port=back_port)
            ka = procs.start_test_service("keepalive", ka_port, source="keepalive_service.py")
            weft = e2elib.start_weft([front.pid, back.pid, ka.pid], env={
                "OTEL_EXPORTER_OTLP_ENDPOINT": rx.grpc_endpoint,
                "OTEL_EXPORTER_OTLP_PROTOCOL": "grpc"})
            with weft:
                weft.wait_ready()
                f.check(request(front_port, "GET", "/blob/%d" % MB) == (200, MB),
                        "GET /blob/1MiB answered")
                f.check(request(front_port, "GET", "/chunked/%d" % (MB + 5)) == (200, MB + 5),
                        "GET /chunked answered")
                status, _ = request(front_port, "POST", "/upload", body=b"u" * (MB // 2))
                f.check(status == 200, "POST /upload answered")
                f.check(request(front_port, "GET", "/fetch/%d" % (2 * MB))[0] == 200,
                        "GET /fetch/2MiB answered")
                conn = http.client.HTTPConnection("127.0.0.1", ka_port, timeout=30)
                got = []
                for path in keepalive_paths:
                    conn.request("GET", path)
                    reply = conn.getresponse()
                    got.append((reply.status, len(reply.read())))
                conn.close()
                f.check(len(got) == len(keepalive_paths), "keep-alive requests answered")
                expected = 4 + 2 + len(keepalive_paths)  # fetch adds a CLIENT and a back SERVER
                stop_after_spans(f, weft, rx, count=expected, timeout=15)
        spans = rx.spans()
    finally:
        rx.stop(check=False)

    f.check(len(spans) == expected, "%d spans (%d: %s)" % (expected, len(spans),
                                                            [describe(s) for s in spans]))

    def server(service, path):
        found = [s for s in spans if resource_service(s) == service and s["kind"] == "SERVER" and
                 attr(s, "url.path") == path]
        f.check(len(found) == 1, "%s SERVER %s: one span (%d)" % (service, path, len(found)))
        return found[0] if found else None

    blob = server("front", "/blob/%d" % MB)
    if blob:
        f.check(attr(blob, "http.response.body.size") == MB and
                attr(blob, "http.response.status_code") == 200,
                "1 MiB Content-Length body: http.response.body.size exact (%r)" %
                attr(blob, "http.response.body.size"))
    chunked = server("front", "/chunked/%d" % (MB + 5))
    if chunked:
        f.check(attr(chunked, "http.response.body.size") == MB + 5,
                "chunked body: decoded http.response.body.size exact (%r)" %
                attr(chunked, "http.response.body.size"))
    upload = server("front", "/upload")
    if upload:
        f.check(upload["name"] == "POST /upload" and
                attr(upload, "http.request.method") == "POST" and
                attr(upload, "http.request.body.size") == MB // 2 and
                attr(upload, "http.response.status_code") == 200,
                "upload: POST span with http.request.body.size %d (%r)" %
                (MB // 2, attr(upload, "http.request.body.size")))
    fetched = server("back", "/blob/%d" % (2 * MB))
    clients = [s for s in spans if s["kind"] == "CLIENT"]
    if f.check(len(clients) == 1, "one CLIENT span (the fetch)"):
        c = clients[0]
        f.check(attr(c, "http.response.body.size") == 2 * MB and
                attr(c, "http.response.status_code") == 200,
                "CLIENT download: http.response.body.size exact (%r)" %
                attr(c, "http.response.body.size"))
        f.check(fetched is not None and fetched["parent_span_id"] == c["span_id"],
                "the big download's SERVER span is the CLIENT span's child")
    ka_spans = sorted([s for s in spans if resource_service(s) == "keepalive"],
                      key=lambda s: s["start_unix_nano"])
    f.check([attr(s, "url.path") for s in ka_spans] == keepalive_paths,
            "keep-alive: every request after a big body has its span, in order (%s)" %
            [attr(s, "url.path") for s in ka_spans])
    f.check([(attr(s, "http.response.status_code"), attr(s, "http.response.body.size"))
             for s in ka_spans] == got,
            "keep-alive: statuses and body sizes match what the client got (%s vs %s)" %
            ([(attr(s, "http.response.status_code"), attr(s, "http.response.body.size"))
              for s in ka_spans], got))
    f.finish()


if __name__ == "__main__":
    main()
