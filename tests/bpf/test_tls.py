"""Issue 6: HTTPS through a shared OpenSSL (libssl.so.3) for unmodified
processes. Python services over TLS with a self-signed certificate made here
give the same connected trace as their plaintext twin (tests/e2e/
test_two_services.py), with url.scheme https; keep-alive over TLS gives one
span pair per request; a TLS server started by a traced process after weft
started is covered by the libssl rescan; curl -> nginx over TLS.
"""
import http.client
import os
import shutil
import ssl
import subprocess
import sys
import time

_HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(_HERE, "..", "e2e"))
import e2elib  # noqa: E402
from e2elib import attr, describe, resource_service  # noqa: E402
import weftlib  # noqa: E402

# A stdlib HTTPS service (http.server + ssl, HTTP/1.1 keep-alive); downstream
# calls go through requests with verify=<the test's certificate>.
SERVICE = r'''
import http.server, json, os, ssl, sys, time
import requests

CERT, KEY = os.environ["TLS_CERT"], os.environ["TLS_KEY"]
DOWNSTREAM = os.environ.get("DOWNSTREAM_URL", "")
SESSION = requests.Session()


class Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def reply(self, status, payload):
        body = json.dumps(payload).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def do_GET(self):
        parts = self.path.strip("/").split("/")
        if parts[0] == "order":
            r = requests.get("%s/place/%s" % (DOWNSTREAM, parts[1]), verify=CERT, timeout=5)
            return self.reply(r.status_code, {"order": parts[1], "placed": r.json()})
        if parts[0] == "session":
            r = SESSION.get("%s/place/%s" % (DOWNSTREAM, parts[1]), verify=CERT, timeout=5)
            return self.reply(r.status_code, {"order": parts[1], "placed": r.json()})
        if parts[0] == "place":
            return self.reply(200, {"placed": parts[1]})
        if parts[0] == "slowupload":
            # Read the body slowly, so a non-blocking client's SSL_write
            # fills the socket and has to be retried (WANT_WRITE).
            length = int(self.headers["Content-Length"])
            time.sleep(0.5)
            got = 0
            while got < length:
                chunk = self.rfile.read(min(65536, length - got))
                if not chunk:
                    break
                got += len(chunk)
            return self.reply(200, {"received": got})
        if parts[0] == "blob":
            return self.reply(200, {"blob": "x" * int(parts[1])})
        return self.reply(404, {})

    do_POST = do_GET

    def log_message(self, *args):
        pass


context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
context.load_cert_chain(CERT, KEY)
server = http.server.ThreadingHTTPServer(("127.0.0.1", int(sys.argv[1])), Handler)
server.socket = context.wrap_socket(server.socket, server_side=True)
server.serve_forever()
'''

# The same /place route as a Flask app on werkzeug's server with an
# ssl_context (the usual way to serve Flask over HTTPS without a proxy).
FLASK_SERVICE = r'''
import os, sys
from flask import Flask, jsonify

app = Flask(__name__)


@app.get("/place/<order_id>")
def place(order_id):
    return jsonify(placed=order_id)


app.run(host="127.0.0.1", port=int(sys.argv[1]), threaded=True,
        ssl_context=(os.environ["TLS_CERT"], os.environ["TLS_KEY"]))
'''

# A client on a non-blocking TLS socket: one 4 MB POST, retried on
# WANT_WRITE until OpenSSL took it all; waits for a trigger file first.
NONBLOCKING_CLIENT = r'''
import os, select, socket, ssl, sys, time
trigger, port, cert = sys.argv[1], int(sys.argv[2]), sys.argv[3]
context = ssl.create_default_context(cafile=cert)
while not os.path.exists(trigger):
    time.sleep(0.05)
# A fixed, small send buffer: autotuning may grow it to tcp_wmem's maximum
# (4 MiB), which with the peer's receive window holds the whole request, and
# then nothing is retried.
raw = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
raw.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, 65536)
raw.connect(("127.0.0.1", port))
sock = context.wrap_socket(raw, server_hostname="127.0.0.1")
sock.setblocking(False)
body = b"x" * 4000000
request = (b"POST /slowupload HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: %d\r\n\r\n"
           % len(body)) + body
retries = 0
while True:
    try:
        sock.send(request)  # all or nothing: Python does not enable partial writes
        break
    except ssl.SSLWantWriteError:
        retries += 1
        select.select([], [sock], [], 5)
reply = b""
while b"received" not in reply:
    select.select([sock], [], [], 5)
    try:
        reply += sock.recv(65536)
    except ssl.SSLWantReadError:
        pass
print("retries=%d" % retries, flush=True)
'''

# Plain Python that never loads libssl itself: it starts the HTTPS service
# only when told to, long after weft attached.
LAUNCHER = r'''
import os, subprocess, sys, time
trigger, service, port = sys.argv[1], sys.argv[2], sys.argv[3]
while not os.path.exists(trigger):
    time.sleep(0.05)
child = subprocess.Popen([sys.executable, service, port])
child.wait()
'''


def make_certificate(directory):
    cert, key = os.path.join(directory, "cert.pem"), os.path.join(directory, "key.pem")
    subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", key,
                    "-out", cert, "-days", "2", "-subj", "/CN=localhost",
                    "-addext", "subjectAltName=DNS:localhost,IP:127.0.0.1"],
                   check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    return cert, key


def https_get(port, path, cert, conn=None, headers=None):
    """GET over HTTPS from the (untraced) test process; returns status."""
    own = conn is None
    if own:
        conn = http.client.HTTPSConnection(
            "127.0.0.1", port, timeout=15, context=ssl.create_default_context(cafile=cert))
    try:
        conn.request("GET", path, headers=headers or {})
        reply = conn.getresponse()
        reply.read()
        return reply.status
    finally:
        if own:
            conn.close()


BACKEND = "socket"


def collect(pids, want, action):
    """weft over pids exporting to a fresh OTLP receiver while action()
    runs; returns (weft's exit code, spans received)."""
    rx = e2elib.start_receiver()
    try:
        weft = e2elib.start_weft(pids, env={"OTEL_EXPORTER_OTLP_ENDPOINT": rx.http_endpoint},
                                 extra_args=["--backend", BACKEND])
        with weft:
            weft.wait_ready()
            action()
            try:
                rx.wait_for_spans(count=want, timeout=15)
            except TimeoutError:
                pass
            code, _ = weft.stop()
        return code, rx.spans()
    finally:
        rx.stop(check=False)


def check_chain(f, pids, front_port, back_port, cert, front_name="front", back_name="back"):
    """front SERVER -> front CLIENT -> back SERVER, one trace, all https."""
    status = []
    code, spans = collect(pids, 3,
                          lambda: status.append(https_get(front_port, "/order/42", cert)))
    f.check(status == [200], "GET https://front/order/42 answered 200 (%s)" % status)
    f.check(code == 0, "weft exits 0")
    f.check(len(spans) == 3, "3 spans exported (%s)" % [describe(s) for s in spans])
    front = [s for s in spans if resource_service(s) == front_name and s["kind"] == "SERVER"]
    client = [s for s in spans if resource_service(s) == front_name and s["kind"] == "CLIENT"]
    back = [s for s in spans if resource_service(s) == back_name and s["kind"] == "SERVER"]
    if not f.check(len(front) == 1 and len(client) == 1 and len(back) == 1,
                   "one %s SERVER, one %s CLIENT, one %s SERVER" %
                   (front_name, front_name, back_name)):
        return
    front, client, back = front[0], client[0], back[0]
    f.check(len({s["trace_id"] for s in spans}) == 1, "one trace id for all three")
    f.check(front["parent_span_id"] == "", "front SERVER is the root")
    f.check(client["parent_span_id"] == front["span_id"], "front CLIENT's parent is front SERVER")
    f.check(back["parent_span_id"] == client["span_id"], "back SERVER's parent is front CLIENT")
    f.check(attr(front, "weft.link.source") == "none", "root link source none")
    f.check(attr(client, "weft.link.source") == "thread", "CLIENT link source thread")
    f.check(attr(back, "weft.link.source") == "peer-socket",
            "back SERVER link source peer-socket (%s)" % attr(back, "weft.link.source"))
    for s in spans:
        f.check(attr(s, "url.scheme") == "https", "%s: url.scheme https (%s)" %
                (describe(s), attr(s, "url.scheme")))
        f.check(attr(s, "http.response.status_code") == 200, "%s: status 200" % describe(s))
    f.check(attr(front, "url.path") == "/order/42", "front SERVER url.path /order/42")
    f.check(attr(back, "url.path") == "/place/42", "back SERVER url.path /place/42")
    f.check(attr(client, "url.full") == "https://127.0.0.1:%d/place/42" % back_port,
            "front CLIENT url.full https://127.0.0.1:%d/place/42 (%s)" %
            (back_port, attr(client, "url.full")))
    f.check(attr(back, "server.port") == back_port, "back SERVER server.port")


def check_keepalive(f, pids, front_port, cert, n=20):
    """n requests on one TLS connection into front, each calling back over a
    pooled keep-alive TLS connection: n linked triples, right paths."""
    statuses = []

    def run():
        conn = http.client.HTTPSConnection(
            "127.0.0.1", front_port, timeout=15, context=ssl.create_default_context(cafile=cert))
        try:
            for i in range(n):
                statuses.append(https_get(front_port, "/session/%d" % i, cert, conn=conn))
        finally:
            conn.close()

    code, spans = collect(pids, 3 * n, run)
    f.check(statuses == [200] * n, "keep-alive: %d requests answered 200" % n)
    f.check(code == 0, "keep-alive: weft exits 0")
    f.check(len(spans) == 3 * n, "keep-alive: %d spans (%d)" % (3 * n, len(spans)))
    by_id = {s["span_id"]: s for s in spans}
    fronts = {attr(s, "url.path"): s for s in spans
              if resource_service(s) == "front" and s["kind"] == "SERVER"}
    backs = [s for s in spans if resource_service(s) == "back" and s["kind"] == "SERVER"]
    f.check(sorted(fronts) == sorted("/session/%d" % i for i in range(n)),
            "keep-alive: one front SERVER per request path")
    linked = 0
    for back in backs:
        i = (attr(back, "url.path") or "").rsplit("/", 1)[-1]
        client = by_id.get(back["parent_span_id"])
        front = fronts.get("/session/%s" % i)
        if (client and front and client["kind"] == "CLIENT" and
                client["parent_span_id"] == front["span_id"] and
                back["trace_id"] == front["trace_id"] and attr(back, "url.scheme") == "https"):
            linked += 1
    f.check(linked == n, "keep-alive: every back SERVER /place/i -> CLIENT -> front "
            "SERVER /session/i, same trace, https (%d of %d)" % (linked, n))


def check_traceparent_and_large_bodies(f, back_port, back_pid, cert):
    """A traceparent inside TLS is adopted; a 200 KB response (many TLS
    records, one truncated capture) keeps keep-alive in sync."""
    trace_id, parent = "4bf92f3577b34da6a3ce929d0e0e4736", "00f067aa0ba902b7"
    statuses = []

    def run():
        conn = http.client.HTTPSConnection(
            "127.0.0.1", back_port, timeout=15, context=ssl.create_default_context(cafile=cert))
        try:
            statuses.append(https_get(back_port, "/place/tp", cert, conn=conn, headers={
                "traceparent": "00-%s-%s-01" % (trace_id, parent)}))
            statuses.append(https_get(back_port, "/blob/200000", cert, conn=conn))
            statuses.append(https_get(back_port, "/place/after", cert, conn=conn))
        finally:
            conn.close()

    code, spans = collect([back_pid], 3, run)
    f.check(statuses == [200] * 3, "traceparent/large: 3 requests answered 200")
    by_path = {attr(s, "url.path"): s for s in spans}
    tp = by_path.get("/place/tp")
    f.check(tp is not None and tp["trace_id"] == trace_id and tp["parent_span_id"] == parent and
            attr(tp, "weft.link.source") == "traceparent",
            "traceparent inside TLS adopted (%s)" % (describe(tp) if tp else None))
    blob = by_path.get("/blob/200000")
    size = attr(blob, "http.response.body.size") if blob else None
    f.check(blob is not None and attr(blob, "http.response.status_code") == 200,
            "200 KB response over TLS gives its span (body size %s)" % size)
    f.check("/place/after" in by_path, "the request after the large body gets its span")


def check_nonblocking_retry(f, procs, back_port, back_pid, cert):
    """A CLIENT span whose SSL_write was retried after WANT_WRITE is the
    parent the server adopted (same-node peer link across the retry)."""
    trigger = os.path.join(procs.tmpdir.name, "start-nonblocking")
    path = procs.write_script("nbclient", NONBLOCKING_CLIENT)
    client = procs.start([weftlib.PYTHON, path, trigger, str(back_port), cert],
                         log_name="nbclient.log")
    time.sleep(0.5)  # the client has imported ssl (libssl mapped) before weft scans

    def run():
        open(trigger, "w").close()
        client.wait(30)

    code, spans = collect([client.pid, back_pid], 2, run)
    log = procs.log("nbclient.log")
    retried = "retries=0" not in log and "retries=" in log
    f.check(retried, "non-blocking client retried SSL_write (%s)" % log.strip())
    clients = [s for s in spans if s["kind"] == "CLIENT"]
    servers = [s for s in spans if s["kind"] == "SERVER"]
    if not f.check(len(clients) == 1 and len(servers) == 1,
                   "non-blocking: one CLIENT and one SERVER span (%s)" %
                   [describe(s) for s in spans]):
        return
    f.check(servers[0]["parent_span_id"] == clients[0]["span_id"] and
            servers[0]["trace_id"] == clients[0]["trace_id"] and
            attr(servers[0], "weft.link.source") == "peer-socket",
            "non-blocking: SERVER's parent is the retried CLIENT span (peer-socket)")
    f.check(attr(servers[0], "http.request.body.size") == 4000000,
            "non-blocking: request body size 4000000 (%s)" %
            attr(servers[0], "http.request.body.size"))


def check_late_process(f, procs, service_path, cert):
    """A traced process that loads no libssl starts an HTTPS service after
    weft is ready: the rescan finds its libssl within a second."""
    trigger = os.path.join(procs.tmpdir.name, "start-late")
    port = weftlib.free_port()
    launcher_path = procs.write_script("launcher", LAUNCHER)
    late_path = os.path.join(os.path.dirname(service_path), "late.py")
    shutil.copy(service_path, late_path)
    launcher = procs.start([weftlib.PYTHON, launcher_path, trigger, late_path, str(port)],
                           env={"TLS_CERT": cert, "TLS_KEY": cert.replace("cert", "key")},
                           log_name="late.log")
    statuses = []

    def run():
        open(trigger, "w").close()
        weftlib.wait_for_port(port, timeout=20)
        time.sleep(1.5)  # the documented bound: a rescan every 500 ms
        for i in range(3):
            statuses.append(https_get(port, "/place/%d" % i, cert))

    code, spans = collect([launcher.pid], 3, run)
    f.check(statuses == [200] * 3, "late process answered 3 HTTPS requests")
    servers = [s for s in spans if s["kind"] == "SERVER"]
    f.check(sorted(attr(s, "url.path") for s in servers) == ["/place/0", "/place/1", "/place/2"],
            "late process: 3 SERVER spans with the right paths (%s)" %
            [describe(s) for s in spans])
    f.check(all(attr(s, "url.scheme") == "https" for s in servers),
            "late process: url.scheme https")
    f.check(all(resource_service(s) == "late" for s in servers),
            "late process: service.name late (%s)" % [resource_service(s) for s in servers])


NGINX_CONF = r'''
daemon off;
worker_processes 1;
pid %(dir)s/nginx.pid;
error_log %(dir)s/nginx-error.log;
events { worker_connections 64; }
http {
  access_log off;
  client_body_temp_path %(dir)s/body;
  proxy_temp_path %(dir)s/proxy;
  fastcgi_temp_path %(dir)s/fastcgi;
  uwsgi_temp_path %(dir)s/uwsgi;
  scgi_temp_path %(dir)s/scgi;
  server {
    listen 127.0.0.1:%(port)d ssl;
    ssl_certificate %(cert)s;
    ssl_certificate_key %(key)s;
    location / { return 200 "hello from nginx\n"; }
  }
}
'''


def check_nginx(f, procs, cert):
    nginx = shutil.which("nginx") or "/usr/sbin/nginx"
    curl = shutil.which("curl")
    if not os.path.exists(nginx) or not curl:
        print("skip  curl -> nginx (nginx or curl not installed)")
        return
    port = weftlib.free_port()
    conf = os.path.join(procs.tmpdir.name, "nginx.conf")
    with open(conf, "w") as out:
        out.write(NGINX_CONF % {"dir": procs.tmpdir.name, "port": port, "cert": cert,
                                "key": cert.replace("cert", "key")})
    master = procs.start([nginx, "-c", conf, "-p", procs.tmpdir.name], log_name="nginx.log")
    weftlib.wait_for_port(port, timeout=10)
    time.sleep(0.3)  # the worker forks after the listener opens
    outputs = []

    def run():
        for i in range(2):
            done = subprocess.run([curl, "-s", "--cacert", cert, "--noproxy", "*",
                                   "https://127.0.0.1:%d/hello/%d" % (port, i)],
                                  capture_output=True, timeout=15)
            outputs.append(done.stdout)

    code, spans = collect([master.pid], 2, run)
    f.check(outputs == [b"hello from nginx\n"] * 2, "curl got nginx's answer twice")
    servers = sorted((attr(s, "url.path"), attr(s, "url.scheme"), attr(s,
                      "http.response.status_code")) for s in spans if s["kind"] == "SERVER")
    f.check(servers == [("/hello/0", "https", 200), ("/hello/1", "https", 200)],
            "nginx: 2 https SERVER spans with paths and status (%s)" %
            [describe(s) for s in spans])


def main():
    global BACKEND
    BACKEND = sys.argv[1] if len(sys.argv) > 1 else "socket"
    weftlib.require_bpf()
    if not shutil.which("openssl"):
        print("SKIP: the openssl command is not installed (scripts/setup installs it)")
        sys.exit(weftlib.SKIP)
    f = weftlib.Failures()
    with e2elib.Processes() as procs:
        cert, key = make_certificate(procs.tmpdir.name)
        env = {"TLS_CERT": cert, "TLS_KEY": key}
        back_port, front_port = weftlib.free_port(), weftlib.free_port()
        back = procs.start_service("back", SERVICE, back_port, env=env)
        front = procs.start_service(
            "front", SERVICE, front_port,
            env=dict(env, DOWNSTREAM_URL="https://127.0.0.1:%d" % back_port))
        service_path = os.path.join(procs.tmpdir.name, "back.py")
        check_chain(f, [front.pid, back.pid], front_port, back_port, cert)
        flask_port, front2_port = weftlib.free_port(), weftlib.free_port()
        flask_back = procs.start_service("flaskback", FLASK_SERVICE, flask_port, env=env)
        front2 = procs.start_service(
            "front2", SERVICE, front2_port,
            env=dict(env, DOWNSTREAM_URL="https://127.0.0.1:%d" % flask_port))
        check_chain(f, [front2.pid, flask_back.pid], front2_port, flask_port, cert,
                    front_name="front2", back_name="flaskback")
        check_keepalive(f, [front.pid, back.pid], front_port, cert)
        check_traceparent_and_large_bodies(f, back_port, back.pid, cert)
        check_nonblocking_retry(f, procs, back_port, back.pid, cert)
        check_late_process(f, procs, service_path, cert)
        check_nginx(f, procs, cert)
    f.finish()


if __name__ == "__main__":
    main()
