"""Issue 4: the demo shop, traced by weft with no tracing code, exports one
complete, correctly linked trace per front request over OTLP.

    test_shop.py [grpc|http] [REQUESTS THREADS]

store-fe SERVER GET / -> store-fe CLIENT -> catalog SERVER -> 3 x catalog
CLIENT -> 3 x stock SERVER, and store-fe SERVER -> store-fe CLIENT -> auth
SERVER: 11 spans per trace, 20 front requests from 4 concurrent clients.
"""
import os
import sys
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import e2elib  # noqa: E402
from e2elib import attr, children, describe, inside, resource_service  # noqa: E402
import weftlib  # noqa: E402

# Scaled up by arguments for the load run (e2e_shop_load).
REQUESTS = int(sys.argv[2]) if len(sys.argv) > 2 else 20
CLIENT_THREADS = int(sys.argv[3]) if len(sys.argv) > 3 else 4
SPANS_PER_TRACE = 11
SERVICES = {"store-fe", "catalog", "stock", "auth"}


def start_shop(procs):
    ports = {name: weftlib.free_port() for name in
             ("STORE_FE_PORT", "CATALOG_PORT", "STOCK_PORT", "AUTH_PORT")}
    env = {k: str(v) for k, v in ports.items()}
    env["SHOP_LOG_DIR"] = os.path.join(procs.tmpdir.name, "shop-logs")
    pids_path = os.path.join(procs.tmpdir.name, "shop.pids")
    with open(pids_path, "wb") as out:
        shop = procs.start([os.path.join(e2elib.REPO, "examples", "shop", "run.sh")], env=env,
                           stdout=out, log_name="shop.err")
    pids = {}
    deadline = time.time() + 20
    while len(pids) < 4 and time.time() < deadline:
        if shop.poll() is not None:
            raise RuntimeError("run.sh exited: %s" % procs.log("shop.err"))
        with open(pids_path) as f:
            pids = dict(line.split() for line in f if line.strip())
        time.sleep(0.05)
    if len(pids) < 4:
        raise RuntimeError("run.sh printed %r" % pids)
    for port in ports.values():
        weftlib.wait_for_port(port, timeout=20)
    return ports["STORE_FE_PORT"], {name: int(pid) for name, pid in pids.items()}


def send_front_requests(port):
    """REQUESTS GETs of / from CLIENT_THREADS threads; returns the statuses."""
    statuses = []
    lock = threading.Lock()
    def client(share):
        for _ in range(share):
            status, _ = e2elib.http_get("http://127.0.0.1:%d/" % port, timeout=15)
            with lock:
                statuses.append(status)

    shares = [REQUESTS // CLIENT_THREADS + (1 if t < REQUESTS % CLIENT_THREADS else 0)
              for t in range(CLIENT_THREADS)]
    threads = [threading.Thread(target=client, args=(share,)) for share in shares]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    return statuses


def only(spans, what, f, **match):
    """The single span of `spans` with these service/kind/name/url; checks
    there is exactly one."""
    found = [s for s in spans
             if all((resource_service(s) if k == "service" else
                     s[k] if k in ("kind", "name") else attr(s, k)) == v
                    for k, v in match.items())]
    f.check(len(found) == 1, "%s: exactly one (found %d: %s)" %
            (what, len(found), [describe(s) for s in found]))
    return found[0] if len(found) == 1 else None


def check_trace(f, trace_id, spans):
    """One trace's tree; each failure names the trace."""
    t = trace_id[:8]
    f.check(len(spans) == SPANS_PER_TRACE, "trace %s: %d spans (want %d)" %
            (t, len(spans), SPANS_PER_TRACE))
    ids = {s["span_id"] for s in spans}
    f.check(len(ids) == len(spans), "trace %s: span ids unique" % t)
    roots = [s for s in spans if s["parent_span_id"] == ""]
    orphans = [describe(s) for s in spans if s["parent_span_id"] and s["parent_span_id"] not in ids]
    f.check(not orphans, "trace %s: every parent_span_id resolves (orphans: %s)" % (t, orphans))
    if not f.check(len(roots) == 1, "trace %s: one root (%s)" % (t, [describe(s) for s in roots])):
        return
    root = roots[0]
    f.check(resource_service(root) == "store-fe" and root["kind"] == "SERVER" and
            root["name"] == "GET /" and attr(root, "weft.link.source") == "none",
            "trace %s: root is store-fe SERVER 'GET /' link none (%s)" % (t, describe(root)))
    kids = children(spans, root)
    f.check(len(kids) == 2, "trace %s: root has 2 children (%d)" % (t, len(kids)))
    to_catalog = [s for s in kids if s["kind"] == "CLIENT" and
                  str(attr(s, "url.full")).endswith("/products")]
    to_auth = [s for s in kids if s["kind"] == "CLIENT" and
               str(attr(s, "url.full")).endswith("/verify")]
    if not (f.check(len(to_catalog) == 1 and len(to_auth) == 1,
                    "trace %s: root's children are store-fe CLIENT /products and /verify (%s)" %
                    (t, [describe(s) for s in kids]))):
        return
    edges = [(root, to_catalog[0]), (root, to_auth[0])]
    for client in (to_catalog[0], to_auth[0]):
        f.check(resource_service(client) == "store-fe" and
                attr(client, "weft.link.source") == "thread",
                "trace %s: %s is store-fe, link thread" % (t, describe(client)))

    catalog = only(children(spans, to_catalog[0]), "trace %s: catalog SERVER under store-fe CLIENT"
                   % t, f, service="catalog", kind="SERVER", name="GET /products")
    auth = only(children(spans, to_auth[0]), "trace %s: auth SERVER under store-fe CLIENT" % t, f,
                service="auth", kind="SERVER", name="GET /verify")
    for server in (catalog, auth):
        if server is None:
            continue
        f.check(attr(server, "weft.link.source") == "peer-socket",
                "trace %s: %s linked by peer-socket" % (t, describe(server)))
    if auth is not None:
        edges.append((to_auth[0], auth))
        f.check(not children(spans, auth), "trace %s: auth SERVER is a leaf" % t)
    if catalog is not None:
        edges.append((to_catalog[0], catalog))
        stock_clients = children(spans, catalog)
        f.check(len(stock_clients) == 3 and
                all(resource_service(s) == "catalog" and s["kind"] == "CLIENT" and
                    attr(s, "weft.link.source") == "thread" for s in stock_clients),
                "trace %s: catalog SERVER has 3 catalog CLIENT children, link thread (%s)" %
                (t, [describe(s) for s in stock_clients]))
        stock_paths = []
        for client in stock_clients:
            edges.append((catalog, client))
            stock = only(children(spans, client), "trace %s: stock SERVER under catalog CLIENT" % t,
                         f, service="stock", kind="SERVER", name="GET /stock/{id}")
            if stock is None:
                continue
            edges.append((client, stock))
            stock_paths.append(attr(stock, "url.path"))
            f.check(attr(stock, "weft.link.source") == "peer-socket" and not children(spans, stock),
                    "trace %s: stock SERVER linked by peer-socket, a leaf" % t)
        f.check(sorted(stock_paths) == ["/stock/1", "/stock/2", "/stock/3"],
                "trace %s: stock paths /stock/1..3 (%s)" % (t, stock_paths))
    # All spans come from one agent and one clock (CLOCK_MONOTONIC converted
    # with one offset), and a client writes before its server reads and reads
    # after the server wrote: nesting must be exact, no tolerance.
    outside = ["%s not inside %s (starts %+d ns, ends %+d ns relative to the parent)" %
               (describe(c), describe(p), c["start_unix_nano"] - p["start_unix_nano"],
                c["end_unix_nano"] - p["end_unix_nano"]) for p, c in edges if not inside(c, p)]
    f.check(not outside, "trace %s: every child inside its parent's time span %s" % (t, outside))


def main():
    weftlib.require_bpf()
    protocol = sys.argv[1] if len(sys.argv) > 1 else "grpc"
    f = weftlib.Failures()
    rx = e2elib.start_receiver()
    try:
        with e2elib.Processes() as procs:
            front_port, pids = start_shop(procs)
            print("shop pids: %s" % pids)
            if protocol == "grpc":
                # The environment path: what users of OTel SDKs already set.
                weft = e2elib.start_weft(pids.values(), env={
                    "OTEL_EXPORTER_OTLP_ENDPOINT": rx.grpc_endpoint,
                    "OTEL_EXPORTER_OTLP_PROTOCOL": "grpc"})
            else:
                weft = e2elib.start_weft(pids.values(), extra_args=[
                    "--exporter", "otlp", "--otlp-endpoint", rx.http_endpoint,
                    "--otlp-protocol", "http/protobuf"])
            with weft:
                weft.wait_ready()
                statuses = send_front_requests(front_port)
                f.check(statuses.count(200) == REQUESTS, "%d front requests answered 200 (%s)" %
                        (REQUESTS, statuses))
                try:
                    rx.wait_for_spans(count=REQUESTS * SPANS_PER_TRACE, timeout=20 + REQUESTS // 10)
                except TimeoutError:
                    pass  # counted below, with the tree checks saying what is missing
                code, _ = weft.stop()
                f.check(code == 0, "weft exits 0 on SIGTERM")
        spans = rx.spans()
    finally:
        rx.stop(check=False)

    f.check(len(spans) == REQUESTS * SPANS_PER_TRACE, "%d spans exported (want %d)" %
            (len(spans), REQUESTS * SPANS_PER_TRACE))
    f.check({resource_service(s) for s in spans} == SERVICES,
            "service.name values are exactly %s (%s)" %
            (sorted(SERVICES), sorted({str(resource_service(s)) for s in spans})))
    traces = e2elib.by_trace(spans)
    roots = [s for s in spans if s["parent_span_id"] == ""]
    f.check(len(roots) == REQUESTS and all(s["name"] == "GET /" for s in roots),
            "%d root spans, all store-fe GET / (%d: %s)" %
            (REQUESTS, len(roots), sorted({describe(s) for s in roots})[:5]))
    f.check(len(traces) == REQUESTS, "one trace id per front request: %d traces (want %d)" %
            (len(traces), REQUESTS))
    for trace_id, trace_spans in sorted(traces.items()):
        check_trace(f, trace_id, trace_spans)
    f.finish()


if __name__ == "__main__":
    main()
