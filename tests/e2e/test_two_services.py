"""Issue 3: two unmodified Flask services, front GET /order/<id> calling back
GET /place/<id> with requests, give one linked trace of three spans with the
stable HTTP semantic-convention attributes, over OTLP and on the console."""
import http.client
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import e2elib  # noqa: E402
from e2elib import attr, describe, resource_service, stop_after_spans  # noqa: E402
import weftlib  # noqa: E402

USER_AGENT = "weft-e2e-client/1.0"


def order(front_port, order_id):
    """GET /order/<id> over http.client, so the test knows its own port.
    Returns (status, client port)."""
    conn = http.client.HTTPConnection("127.0.0.1", front_port, timeout=15)
    try:
        conn.request("GET", "/order/%s" % order_id, headers={"User-Agent": USER_AGENT})
        local_port = conn.sock.getsockname()[1]
        reply = conn.getresponse()
        reply.read()
        return reply.status, local_port
    finally:
        conn.close()


def check_attributes(f, span, expected, what):
    for key, want in expected.items():
        got = attr(span, key)
        ok = want(got) if callable(want) else got == want
        f.check(ok, "%s: %s = %r (got %r)" % (what, key, getattr(want, "__doc__", None) or want,
                                               got))


def check_otlp(f, front_port, back_port, pids):
    rx = e2elib.start_receiver()
    try:
        # Only the endpoint: OTLP/HTTP protobuf is the OpenTelemetry default protocol.
        weft = e2elib.start_weft(pids, env={"OTEL_EXPORTER_OTLP_ENDPOINT": rx.http_endpoint})
        with weft:
            weft.wait_ready()
            status, client_port = order(front_port, 42)
            f.check(status == 200, "GET /order/42 answered 200 (%d)" % status)
            stop_after_spans(f, weft, rx, count=3, timeout=15)
        spans = rx.spans()
    finally:
        rx.stop(check=False)

    f.check(len(spans) == 3, "3 spans exported (%s)" % [describe(s) for s in spans])
    front = [s for s in spans if resource_service(s) == "front" and s["kind"] == "SERVER"]
    client = [s for s in spans if resource_service(s) == "front" and s["kind"] == "CLIENT"]
    back = [s for s in spans if resource_service(s) == "back" and s["kind"] == "SERVER"]
    if not f.check(len(front) == 1 and len(client) == 1 and len(back) == 1,
                   "one front SERVER, one front CLIENT, one back SERVER"):
        return
    front, client, back = front[0], client[0], back[0]

    f.check(len({s["trace_id"] for s in spans}) == 1 and len(front["trace_id"]) == 32 and
            front["trace_id"] != "0" * 32, "one valid trace id for all three")
    f.check(front["parent_span_id"] == "", "front SERVER is the root")
    f.check(client["parent_span_id"] == front["span_id"], "front CLIENT's parent is front SERVER")
    f.check(back["parent_span_id"] == client["span_id"], "back SERVER's parent is front CLIENT")
    f.check(len({s["span_id"] for s in spans}) == 3, "span ids distinct")

    f.check(front["name"] == "GET /order/{id}", "front SERVER named 'GET /order/{id}' (%s)" %
            front["name"])
    f.check(client["name"] == "GET", "front CLIENT named 'GET' (%s)" % client["name"])
    f.check(back["name"] == "GET /place/{id}", "back SERVER named 'GET /place/{id}' (%s)" %
            back["name"])
    f.check(attr(front, "weft.link.source") == "none", "root link source none")
    f.check(attr(client, "weft.link.source") == "thread", "CLIENT link source thread")
    f.check(attr(back, "weft.link.source") == "peer-socket", "back SERVER link source peer-socket")
    f.check(front["status_code"] != "ERROR" and client["status_code"] != "ERROR" and
            back["status_code"] != "ERROR", "no span has status ERROR")

    def requests_agent(value):
        """python-requests/*"""
        return isinstance(value, str) and value.startswith("python-requests/")

    check_attributes(f, front, {
        "http.request.method": "GET", "url.path": "/order/42", "url.scheme": "http",
        "http.route": "/order/{id}", "http.response.status_code": 200,
        "server.address": "127.0.0.1", "server.port": front_port,
        "client.address": "127.0.0.1", "client.port": client_port,
        "network.peer.address": "127.0.0.1", "network.peer.port": client_port,
        "network.protocol.version": "1.1", "user_agent.original": USER_AGENT,
        "url.query": None, "error.type": None}, "front SERVER")
    check_attributes(f, client, {
        "http.request.method": "GET", "url.scheme": "http",
        "url.full": "http://127.0.0.1:%d/place/42" % back_port,
        "http.response.status_code": 200,
        "server.address": "127.0.0.1", "server.port": back_port,
        "network.peer.address": "127.0.0.1", "network.peer.port": back_port,
        "network.protocol.version": "1.1", "user_agent.original": requests_agent,
        "http.route": None, "error.type": None}, "front CLIENT")
    check_attributes(f, back, {
        "http.request.method": "GET", "url.path": "/place/42", "url.scheme": "http",
        "http.route": "/place/{id}", "http.response.status_code": 200,
        "server.address": "127.0.0.1", "server.port": back_port,
        "client.address": "127.0.0.1", "network.peer.address": "127.0.0.1",
        "network.protocol.version": "1.1", "user_agent.original": requests_agent,
        "error.type": None}, "back SERVER")
    f.check(attr(back, "client.port") == attr(back, "network.peer.port") and
            isinstance(attr(back, "client.port"), int) and attr(back, "client.port") != back_port,
            "back SERVER client.port is the caller's port (%r)" % attr(back, "client.port"))
    for s in spans:
        f.check(s["start_unix_nano"] <= s["end_unix_nano"], "%s: start <= end" % describe(s))


def check_console(f, front_port, pids):
    """No OTLP settings: weft prints the trace as a tree on stdout."""
    weft = e2elib.start_weft(pids)
    with weft:
        weft.wait_ready()
        status, _ = order(front_port, 7)
        f.check(status == 200, "console run: GET /order/7 answered 200")
        code, _ = weft.stop()
        f.check(code == 0, "console run: weft exits 0")
        text = weft.stdout_text()
    print("---- console output ----\n%s\n------------------------" % text)
    lines = text.splitlines()
    front = [i for i, line in enumerate(lines) if "GET /order/{id}" in line]
    back = [i for i, line in enumerate(lines) if "GET /place/{id}" in line]
    f.check(len(front) == 1 and len(back) == 1,
            "console shows 'GET /order/{id}' and 'GET /place/{id}' once each")
    if front and back:
        between = lines[front[0] + 1:back[0]]
        f.check(front[0] < back[0] and any("GET" in line for line in between),
                "console: the front CLIENT span sits between front SERVER and back SERVER")
        indent = [len(lines[i]) - len(lines[i].lstrip(" |`-\u2502\u251c\u2514\u2500"))
                  for i in (front[0], back[0])]
        f.check(indent[1] > indent[0], "console: back SERVER is indented under front SERVER")
    f.check("front" in text and "back" in text, "console names both services")


def main():
    weftlib.require_bpf()
    f = weftlib.Failures()
    with e2elib.Processes() as procs:
        back_port, front_port = weftlib.free_port(), weftlib.free_port()
        back = procs.start_test_service("back", back_port)
        front = procs.start_test_service("front", front_port, downstream_port=back_port)
        pids = [front.pid, back.pid]
        check_otlp(f, front_port, back_port, pids)
        check_console(f, front_port, pids)
    f.finish()


if __name__ == "__main__":
    main()
