"""Errors and redaction as a user's backend sees them: a 500 makes an ERROR
SERVER span with error.type, a 404 answer makes the CLIENT span ERROR (not the
SERVER span), query values are REDACTED unless --keep-query-values, and
Authorization and Cookie values are never exported."""
import json
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import e2elib  # noqa: E402
from e2elib import attr, describe, resource_service  # noqa: E402
import weftlib  # noqa: E402

AUTHORIZATION = "Bearer secret-auth-4711"
COOKIE = "session=secret-cookie-0815"
CREDENTIALS = {"Authorization": AUTHORIZATION, "Cookie": COOKIE}
QUERY = "token=secret&page=2"
REDACTED_QUERY = "token=REDACTED&page=REDACTED"


def traced_run(front_port, pids, requests, extra_args=()):
    """One weft run exporting to a fresh receiver; returns (spans, statuses)."""
    rx = e2elib.start_receiver()
    try:
        weft = e2elib.start_weft(pids, env={"OTEL_EXPORTER_OTLP_ENDPOINT": rx.grpc_endpoint,
                                            "OTEL_EXPORTER_OTLP_PROTOCOL": "grpc"},
                                 extra_args=extra_args)
        with weft:
            weft.wait_ready()
            statuses = [e2elib.http_get("http://127.0.0.1:%d%s" % (front_port, path),
                                        headers=headers)[0] for path, headers in requests]
            expected = sum(3 if path.startswith("/proxy/") else 1 for path, _ in requests)
            try:
                rx.wait_for_spans(count=expected, timeout=15)
            except TimeoutError:
                pass
            code, _ = weft.stop()
        return rx.spans(), statuses, code, expected
    finally:
        rx.stop(check=False)


def one(f, spans, what, **match):
    found = [s for s in spans if all(
        (resource_service(s) if k == "service" else s["kind"] if k == "kind" else attr(s, k)) == v
        for k, v in match.items())]
    f.check(len(found) == 1, "%s: exactly one span (%s)" % (what, [describe(s) for s in found]))
    return found[0] if found else None


def main():
    weftlib.require_bpf()
    f = weftlib.Failures()
    with e2elib.Processes() as procs:
        back_port, front_port = weftlib.free_port(), weftlib.free_port()
        back = procs.start_test_service("back", back_port)
        front = procs.start_test_service("front", front_port, downstream_port=back_port)
        pids = [front.pid, back.pid]

        requests = [("/fail", CREDENTIALS), ("/proxy/missing", CREDENTIALS),
                    ("/proxy/search?" + QUERY, CREDENTIALS)]
        spans, statuses, code, expected = traced_run(front_port, pids, requests)
        f.check(statuses == [500, 200, 200], "the services answered 500, 200, 200 (%s)" % statuses)
        f.check(code == 0, "weft exits 0")
        f.check(len(spans) == expected, "%d spans exported (%d)" % (expected, len(spans)))

        failed = one(f, spans, "front SERVER /fail", service="front", kind="SERVER",
                     **{"url.path": "/fail"})
        if failed:
            f.check(failed["status_code"] == "ERROR", "500: SERVER span status ERROR")
            f.check(attr(failed, "http.response.status_code") == 500,
                    "500: http.response.status_code 500")
            f.check(attr(failed, "error.type") == "500", "500: error.type '500' (%r)" %
                    attr(failed, "error.type"))
        missing_client = [s for s in spans if s["kind"] == "CLIENT" and
                          str(attr(s, "url.full")).endswith("/missing")]
        if f.check(len(missing_client) == 1, "one CLIENT span for the call to /missing"):
            c = missing_client[0]
            f.check(c["status_code"] == "ERROR" and attr(c, "http.response.status_code") == 404 and
                    attr(c, "error.type") == "404",
                    "404: CLIENT span ERROR, status 404, error.type '404' (%s, %r)" %
                    (describe(c), attr(c, "error.type")))
        missing_server = one(f, spans, "back SERVER /missing", service="back", kind="SERVER",
                             **{"url.path": "/missing"})
        if missing_server:
            f.check(missing_server["status_code"] != "ERROR" and
                    attr(missing_server, "error.type") is None,
                    "404: the SERVER span is not an error (4xx is the client's fault)")

        front_search = one(f, spans, "front SERVER /proxy/search", service="front", kind="SERVER",
                           **{"url.path": "/proxy/search"})
        if front_search:
            f.check(attr(front_search, "url.query") == REDACTED_QUERY,
                    "front SERVER url.query %r (%r)" % (REDACTED_QUERY,
                                                        attr(front_search, "url.query")))
        search_client = [s for s in spans if s["kind"] == "CLIENT" and
                         "/search" in str(attr(s, "url.full"))]
        if f.check(len(search_client) == 1, "one CLIENT span for the call to /search"):
            f.check(attr(search_client[0], "url.full") ==
                    "http://127.0.0.1:%d/search?%s" % (back_port, REDACTED_QUERY),
                    "CLIENT url.full has the query redacted (%r)" %
                    attr(search_client[0], "url.full"))
        back_search = one(f, spans, "back SERVER /search", service="back", kind="SERVER",
                          **{"url.path": "/search"})
        if back_search:
            f.check(attr(back_search, "url.query") == REDACTED_QUERY,
                    "back SERVER url.query redacted (%r)" % attr(back_search, "url.query"))
        exported = json.dumps(spans)
        f.check("secret" not in exported,
                "'secret' appears nowhere in the exported spans (attributes, resource, names)")
        f.check("Bearer" not in exported and "session=" not in exported,
                "no Authorization or Cookie value is exported")

        spans, statuses, code, expected = traced_run(
            front_port, pids, [("/proxy/search?" + QUERY, CREDENTIALS)],
            extra_args=["--keep-query-values"])
        f.check(statuses == [200] and code == 0 and len(spans) == expected,
                "--keep-query-values run: answered, weft exits 0, %d spans (%d)" %
                (expected, len(spans)))
        kept = one(f, spans, "--keep-query-values: front SERVER", service="front", kind="SERVER")
        if kept:
            f.check(attr(kept, "url.query") == QUERY, "--keep-query-values: url.query %r (%r)" %
                    (QUERY, attr(kept, "url.query")))
        client = one(f, spans, "--keep-query-values: front CLIENT", service="front", kind="CLIENT")
        if client:
            f.check(attr(client, "url.full") == "http://127.0.0.1:%d/search?%s" % (back_port, QUERY),
                    "--keep-query-values: url.full keeps the query (%r)" % attr(client, "url.full"))
        exported = json.dumps(spans)
        f.check(AUTHORIZATION not in exported and "secret-auth" not in exported and
                "secret-cookie" not in exported,
                "--keep-query-values: Authorization and Cookie values still never exported")
    f.finish()


if __name__ == "__main__":
    main()
