"""Parent links across a reused (keep-alive) connection: front calls back
through one requests.Session, so many CLIENT requests share a connection.
Each back SERVER span must be the child of the CLIENT span that sent *its*
request, sequentially and with concurrent callers sharing the pool."""
import os
import sys
import threading

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import e2elib  # noqa: E402
from e2elib import attr, describe, resource_service, stop_after_spans  # noqa: E402
import weftlib  # noqa: E402

SEQUENTIAL = 20
THREADS = 4
PER_THREAD = 5


def get(port, n):
    return e2elib.http_get("http://127.0.0.1:%d/session/%d" % (port, n), timeout=15)[0]


def main():
    weftlib.require_bpf()
    f = weftlib.Failures()
    total = SEQUENTIAL + THREADS * PER_THREAD
    rx = e2elib.start_receiver()
    try:
        with e2elib.Processes() as procs:
            back_port, front_port = weftlib.free_port(), weftlib.free_port()
            back = procs.start_test_service("back", back_port, source="keepalive_service.py")
            front = procs.start_test_service("front", front_port, downstream_port=back_port)
            weft = e2elib.start_weft([front.pid, back.pid], env={
                "OTEL_EXPORTER_OTLP_ENDPOINT": rx.grpc_endpoint,
                "OTEL_EXPORTER_OTLP_PROTOCOL": "grpc"})
            with weft:
                weft.wait_ready()
                statuses = [get(front_port, n) for n in range(SEQUENTIAL)]
                lock = threading.Lock()

                def client(t):
                    for j in range(PER_THREAD):
                        status = get(front_port, 1000 + t * PER_THREAD + j)
                        with lock:
                            statuses.append(status)

                threads = [threading.Thread(target=client, args=(t,)) for t in range(THREADS)]
                for t in threads:
                    t.start()
                for t in threads:
                    t.join(60)
                f.check(statuses == [200] * total, "%d requests answered 200" % total)
                stop_after_spans(f, weft, rx, count=3 * total, timeout=15)
        spans = rx.spans()
    finally:
        rx.stop(check=False)

    f.check(len(spans) == 3 * total, "%d spans (%d)" % (3 * total, len(spans)))
    by_id = {s["span_id"]: s for s in spans}
    backs = [s for s in spans if resource_service(s) == "back" and s["kind"] == "SERVER"]
    f.check(len(backs) == total, "%d back SERVER spans (%d)" % (total, len(backs)))
    wrong = []
    for b in backs:
        n = str(attr(b, "url.path")).rsplit("/", 1)[-1]
        client = by_id.get(b["parent_span_id"])
        server = by_id.get(client["parent_span_id"]) if client else None
        if not (client and client["kind"] == "CLIENT" and resource_service(client) == "front" and
                str(attr(client, "url.full")).endswith("/place/" + n) and
                server and server["kind"] == "SERVER" and attr(server, "url.path") == "/session/" + n
                and server["parent_span_id"] == "" and
                b["trace_id"] == client["trace_id"] == server["trace_id"]):
            wrong.append("%s <- %s <- %s" % (describe(b), client and describe(client),
                                             server and describe(server)))
    f.check(not wrong, "every back SERVER span hangs under the CLIENT span that sent its request, "
            "under the front SERVER span of the same id (%d wrong: %s)" % (len(wrong), wrong[:4]))
    f.check(len(e2elib.by_trace(spans)) == total, "one trace per front request (%d)" %
            len(e2elib.by_trace(spans)))
    sequential_ports = {attr(b, "client.port") for b in backs
                        if int(str(attr(b, "url.path")).rsplit("/", 1)[-1]) < SEQUENTIAL}
    f.check(len(sequential_ports) == 1,
            "the sequential calls really shared one connection (client ports %s)" %
            sorted(sequential_ports))
    links = sorted({attr(b, "weft.link.source") for b in backs})
    f.check(links == ["peer-socket"], "back SERVER spans linked by peer-socket (%s)" % links)
    f.finish()


if __name__ == "__main__":
    main()
