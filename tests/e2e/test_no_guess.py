"""Ambiguity yields no parent, never a guess: front hands its downstream
calls to a shared worker pool, so the thread that sends a CLIENT request is
not the one serving the front request. Under concurrent load, a CLIENT span
may lack a parent, but any parent it has must be the front request that
caused it; the back SERVER span always hangs under its CLIENT span."""
import os
import sys
import threading

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import e2elib  # noqa: E402
from e2elib import attr, describe, resource_service, stop_after_spans  # noqa: E402
import weftlib  # noqa: E402

THREADS = 4
PER_THREAD = 5


def main():
    weftlib.require_bpf()
    f = weftlib.Failures()
    total = THREADS * PER_THREAD
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
                statuses = []
                lock = threading.Lock()

                def client(t):
                    for j in range(PER_THREAD):
                        status, _ = e2elib.http_get("http://127.0.0.1:%d/pooled/%d" %
                                                    (front_port, t * PER_THREAD + j), timeout=15)
                        with lock:
                            statuses.append(status)

                threads = [threading.Thread(target=client, args=(t,)) for t in range(THREADS)]
                for t in threads:
                    t.start()
                for t in threads:
                    t.join(60)
                f.check(statuses == [200] * total, "%d front requests answered 200" % total)
                stop_after_spans(f, weft, rx, count=3 * total, timeout=15)
        spans = rx.spans()
    finally:
        rx.stop(check=False)

    f.check(len(spans) == 3 * total, "%d spans (%d)" % (3 * total, len(spans)))
    by_id = {s["span_id"]: s for s in spans}
    clients = [s for s in spans if s["kind"] == "CLIENT"]
    f.check(len(clients) == total, "%d CLIENT spans (%d)" % (total, len(clients)))
    wrong, parented = [], 0
    for c in clients:
        n = str(attr(c, "url.full")).rsplit("/", 1)[-1]
        if c["parent_span_id"] == "":
            continue
        parented += 1
        parent = by_id.get(c["parent_span_id"])
        if parent is None or attr(parent, "url.path") != "/pooled/%s" % n:
            wrong.append("%s under %s" % (describe(c), parent and describe(parent)))
    print("CLIENT spans with a parent: %d of %d (the rest are roots)" % (parented, len(clients)))
    f.check(not wrong, "no CLIENT span has a wrong parent (%d wrong: %s)" % (len(wrong), wrong[:4]))
    backs = [s for s in spans if resource_service(s) == "back"]
    broken = [describe(b) for b in backs
              if not (by_id.get(b["parent_span_id"]) and
                      by_id[b["parent_span_id"]]["kind"] == "CLIENT" and
                      str(attr(by_id[b["parent_span_id"]], "url.full")).endswith(
                          str(attr(b, "url.path"))))]
    f.check(len(backs) == total and not broken,
            "every back SERVER span hangs under the CLIENT span that called it (%s)" % broken[:4])
    f.finish()


if __name__ == "__main__":
    main()
