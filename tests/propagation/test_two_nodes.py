"""Two nodes (network namespaces joined by a veth pair), each with its own weft
tracing only that node's processes, both exporting to one OTLP receiver.
Node A's callers (a Python service, nginx as a reverse proxy) call node B's
services (a raw Python server that answers with a hash of what it received,
nginx). With --propagate=headers on A:
- the only change to each request is one traceparent line after the request
  line (GET, POST with a 1 MiB body written in pieces, keep-alive, the
  requests library, nginx proxying a GET and a 1 MiB POST);
- that header carries A's CLIENT span ids, and B's SERVER span is its child:
  one trace across the two nodes;
- a request that already carries a traceparent reaches B byte for byte;
- FIONREAD on a socket in weft's sockhash is reported (a known kernel
  pitfall: 0 on kernels with tcp_bpf_ioctl) and the response is still read;
- sockets leave the sockhash when they close.
"""
import hashlib
import json
import os
import re
import subprocess
import sys
import time

_HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(os.path.dirname(_HERE), "e2e"))
sys.path.insert(0, _HERE)
import e2elib  # noqa: E402
from e2elib import attr, describe, resource_service  # noqa: E402
import weftlib  # noqa: E402
from netns import TwoNodes  # noqa: E402

TP_LINE = re.compile(r"^traceparent: 00-([0-9a-f]{32})-([0-9a-f]{16})-01$")
POST_BODY = bytes((i * 7 + 3) & 0xFF for i in range(1 << 20))
CALLER_TRACE = "0af7651916cd43dd8448eb211c80319c"
CALLER_SPAN = "b7ad6b7169203331"

NGINX_COMMON = """daemon off;
user root;
worker_processes 1;
pid {dir}/nginx.pid;
error_log {dir}/error.log warn;
events {{ worker_connections 256; }}
http {{
  access_log off;
  sendfile on;
  client_body_buffer_size 16k;
  client_max_body_size 4m;
  client_body_temp_path {dir}/body;
  proxy_temp_path {dir}/proxy;
  fastcgi_temp_path {dir}/fastcgi;
  uwsgi_temp_path {dir}/uwsgi;
  scgi_temp_path {dir}/scgi;
  {body}
}}
"""
NGINX_PROXY = """upstream node_b {{ server {upstream}; keepalive 4; }}
  server {{
    listen 127.0.0.1:{port};
    location /r/ {{
      proxy_pass http://node_b;
      proxy_http_version 1.1;
      proxy_set_header Connection "";
    }}
  }}"""
NGINX_ECHO = """server {{
    listen {addr}:{port};
    location / {{ return 200 "$http_traceparent|$request_length"; }}
  }}"""


def start_nginx(procs, nodes, ns, name, body):
    prefix = os.path.join(procs.tmpdir.name, name)
    os.makedirs(prefix)
    conf = os.path.join(prefix, "nginx.conf")
    with open(conf, "w") as out:
        out.write(NGINX_COMMON.format(dir=prefix, body=body))
    return procs.start(nodes.command(ns, ["nginx", "-p", prefix, "-c", conf]),
                       log_name=name + ".log")


def wait_listening(nodes, ns, host, port):
    code = ("import socket,time\nfor _ in range(200):\n  try:\n"
            "    socket.create_connection((%r,%d),0.5).close(); break\n"
            "  except OSError: time.sleep(0.05)\n") % (host, port)
    subprocess.run(nodes.command(ns, [weftlib.PYTHON, "-c", code]), check=True, timeout=20)


def curl(nodes, ns, url, data_file=None, headers=()):
    args = ["curl", "-s", "--max-time", "30", "-H", "Expect:"]
    for h in headers:
        args += ["-H", h]
    if data_file:
        args += ["--data-binary", "@" + data_file]
    done = subprocess.run(nodes.command(ns, args + [url]), capture_output=True, timeout=40)
    return done.stdout.decode("utf-8", "replace")


def sockhash_entries(weft_pid):
    """Sockets in the sockhash the given weft holds (found through its fds'
    fdinfo, map_type 18 = sockhash), via bpftool; None if unknown."""
    fd_dir = "/proc/%d/fdinfo" % weft_pid
    for name in os.listdir(fd_dir):
        try:
            with open(os.path.join(fd_dir, name)) as info:
                fields = dict(line.rstrip("\n").split(":\t", 1) for line in info if ":\t" in line)
        except OSError:
            continue
        if fields.get("map_type") != "18":
            continue
        dump = subprocess.run(["bpftool", "-j", "map", "dump", "id", fields["map_id"]],
                              capture_output=True, timeout=10)
        try:
            return len(json.loads(dump.stdout))
        except ValueError:
            return None
    return None


def injected_line(f, what, head):
    """The ids of the one traceparent line right after the request line, or None."""
    lines = head.split("\r\n")
    tps = [l for l in lines if l.lower().startswith("traceparent:")]
    f.check(len(tps) == 1, "%s: B received exactly one traceparent (%s)" % (what, tps))
    m = TP_LINE.match(lines[1]) if len(lines) > 1 else None
    f.check(m is not None, "%s: the traceparent is the line after the request line (%r)" %
            (what, lines[1:2]))
    return (m.group(1), m.group(2)) if m else None


def check_exact(f, what, exchange, body=b""):
    """B received what A sent plus one traceparent line after the request line."""
    answer = exchange["answer"]
    ids = injected_line(f, what, answer["head"])
    if ids is None:
        return None
    sent = exchange["sent_head"].split("\r\n")
    expected_head = "\r\n".join(sent[:1] + ["traceparent: 00-%s-%s-01" % ids] + sent[1:])
    f.check(answer["head"] == expected_head, "%s: B's header block is A's plus that line" % what)
    f.check(answer["len"] == exchange["sent_len"] + 70,
            "%s: B received %d bytes, A sent %d (+70)" % (what, answer["len"], exchange["sent_len"]))
    # The inserted line must not split the send into separate segments (the
    # request line alone first, the rest held back by Nagle until an ACK).
    f.check(answer["head_reads"] == 1,
            "%s: B read the header block in one piece (%d reads)" % (what, answer["head_reads"]))
    f.check(answer["body_sha256"] == hashlib.sha256(body).hexdigest() and
            answer["body_len"] == len(body), "%s: the body arrived byte for byte" % what)
    return ids


def check_joined(f, what, spans, ids, client_service, server_service):
    trace, span = ids
    client = [s for s in spans if s["span_id"] == span]
    ok = f.check(len(client) == 1 and client[0]["kind"] == "CLIENT" and
                 client[0]["trace_id"] == trace and resource_service(client[0]) == client_service,
                 "%s: the header's ids are %s's exported CLIENT span (%s)" %
                 (what, client_service, [describe(s) for s in client]))
    server = [s for s in spans if s["parent_span_id"] == span and s["kind"] == "SERVER"]
    f.check(len(server) == 1 and server[0]["trace_id"] == trace and
            resource_service(server[0]) == server_service and
            attr(server[0], "weft.link.source") == "traceparent",
            "%s: node B's %s SERVER span is its child in the same trace (%s)" %
            (what, server_service, [describe(s) for s in server]))
    return client[0] if ok else None


def main():
    weftlib.require_bpf()
    if subprocess.run(["which", "nginx"], capture_output=True).returncode != 0:
        print("SKIP: no nginx")
        sys.exit(weftlib.SKIP)
    f = weftlib.Failures()
    rx = e2elib.start_receiver()
    results = {}
    stderr_a = ""
    try:
        with TwoNodes() as nodes, e2elib.Processes() as procs:
            a, b = nodes.addr_a, nodes.addr_b
            hash_port, echo_port, caller_port, proxy_port = 8081, 8082, 8080, 8090
            with open(os.path.join(_HERE, "hash_server.py")) as src:
                hashsrv = procs.start(nodes.command(nodes.b, [
                    weftlib.PYTHON, procs.write_script("hashsrv", src.read()), b, str(hash_port)]),
                    log_name="hashsrv.log")
            with open(os.path.join(_HERE, "caller.py")) as src:
                caller = procs.start(nodes.command(nodes.a, [
                    weftlib.PYTHON, procs.write_script("caller", src.read()), a,
                    str(caller_port)]), log_name="caller.log")
            nginx_b = start_nginx(procs, nodes, nodes.b, "nginx-b",
                                  NGINX_ECHO.format(addr=b, port=echo_port))
            nginx_a = start_nginx(procs, nodes, nodes.a, "nginx-a", NGINX_PROXY.format(
                upstream="%s:%d" % (b, hash_port), port=proxy_port))
            wait_listening(nodes, nodes.b, b, hash_port)
            wait_listening(nodes, nodes.b, b, echo_port)
            wait_listening(nodes, nodes.a, a, caller_port)
            wait_listening(nodes, nodes.a, "127.0.0.1", proxy_port)
            time.sleep(0.3)  # nginx workers fork after the listeners open

            otlp = {"OTEL_EXPORTER_OTLP_ENDPOINT": rx.grpc_endpoint,
                    "OTEL_EXPORTER_OTLP_PROTOCOL": "grpc"}
            weft_a = e2elib.start_weft([caller.pid, nginx_a.pid], env=otlp,
                                       extra_args=["--propagate=headers"])
            weft_b = e2elib.start_weft([hashsrv.pid, nginx_b.pid],
                                       env=dict(otlp, WEFT_PROPAGATE="headers"))
            with weft_a, weft_b:
                weft_a.wait_ready()
                weft_b.wait_ready()
                base = "http://%s:%d/call/" % (a, caller_port)
                for mode in ("get", "post", "keepalive", "has_tp", "requests", "fionread"):
                    text = curl(nodes, nodes.a, base + "%s?target=%s:%d" % (mode, b, hash_port))
                    results[mode] = json.loads(text) if text.startswith("[") else text
                text = curl(nodes, nodes.a, base + "nginx?target=%s:%d" % (b, echo_port))
                results["nginx_server"] = json.loads(text) if text.startswith("[") else text
                curl(nodes, nodes.a, base + "hold?target=%s:%d" % (b, hash_port))
                results["sockhash_while_open"] = sockhash_entries(weft_a.proc.pid)
                time.sleep(3.5)  # the held connection closes after 3 s
                results["sockhash_after_close"] = sockhash_entries(weft_a.proc.pid)

                body_file = os.path.join(procs.tmpdir.name, "body.bin")
                with open(body_file, "wb") as out:
                    out.write(POST_BODY)
                proxy = "http://127.0.0.1:%d/r/" % proxy_port
                for what, data in (("nginx_get", None), ("nginx_post", body_file)):
                    text = curl(nodes, nodes.a, proxy + what, data)
                    results[what] = json.loads(text) if text.startswith("{") else text
                # nginx forwards a traceparent it received: no second one.
                text = curl(nodes, nodes.a, proxy + "nginx_has_tp",
                            headers=["traceparent: 00-%s-%s-01" % (CALLER_TRACE, CALLER_SPAN)])
                results["nginx_has_tp"] = json.loads(text) if text.startswith("{") else text
                try:
                    rx.wait_for_spans(count=40, timeout=8)
                except TimeoutError:
                    pass
                for w in (weft_a, weft_b):
                    code, _ = w.stop()
                    f.check(code == 0, "weft exits 0")
                stderr_a = "\n".join(weft_a.stderr_lines)
        spans = rx.spans()
    finally:
        rx.stop(check=False)

    for mode, value in results.items():
        if not isinstance(value, (list, dict)) and not mode.startswith("sockhash"):
            f.check(False, "%s answered JSON (%r)" % (mode, value[:300] if value else value))
    ids = {}
    if isinstance(results.get("get"), list):
        ids["get"] = check_exact(f, "GET", results["get"][0])
    if isinstance(results.get("post"), list):
        ids["post"] = check_exact(f, "POST 1 MiB in pieces", results["post"][0], POST_BODY)
    if isinstance(results.get("keepalive"), list):
        f.check(len(results["keepalive"]) == 3, "3 requests on one keep-alive connection")
        for i, ex in enumerate(results["keepalive"]):
            ids["keepalive%d" % i] = check_exact(f, "keep-alive request %d" % i, ex)
    if isinstance(results.get("has_tp"), list):
        ex = results["has_tp"][0]
        f.check(ex["answer"]["sha256"] == ex["sent_sha256"] and
                ex["answer"]["len"] == ex["sent_len"],
                "a request that already has a traceparent reaches B unchanged")
        adopted = [s for s in spans if attr(s, "url.path") == "/has_tp" and s["kind"] == "SERVER"]
        f.check(len(adopted) == 1 and adopted[0]["trace_id"] == CALLER_TRACE,
                "B's SERVER span continues the caller's own traceparent")
    if isinstance(results.get("requests"), list):
        ids["requests"] = injected_line(f, "requests library", results["requests"][0]["answer"]["head"])
    if isinstance(results.get("fionread"), list):
        # Known pitfall, not avoidable from sk_msg: since tcp_bpf_ioctl (6.1x),
        # FIONREAD on a socket in any sockhash counts only the psock's queue,
        # so it reports 0 here while the bytes wait in the TCP receive queue.
        # The response must still be read whole (no stall).
        fr = results["fionread"][0]
        f.check(fr["recv"] > 0, "the response on a socket in the sockhash is read (%s)" % fr)
        print("NOTE: FIONREAD on a socket in weft's sockhash: %d (recv then returned %d)"
              % (fr["fionread"], fr["recv"]))
    if isinstance(results.get("nginx_server"), list):
        ex = results["nginx_server"][0]
        value, _, length = ex["answer"].partition("|")
        m = re.match(r"^00-([0-9a-f]{32})-([0-9a-f]{16})-01$", value)
        f.check(m is not None, "nginx on B saw a traceparent (%r)" % ex["answer"])
        f.check(length == str(ex["sent_len"] + 70),
                "nginx on B read A's request plus 70 bytes (%s vs %d)" % (length, ex["sent_len"]))
        if m:
            ids["nginx_server"] = (m.group(1), m.group(2))
    for what in ("nginx_get", "nginx_post"):
        if isinstance(results.get(what), dict):
            ids[what] = injected_line(f, "nginx as client (%s)" % what, results[what]["head"])
    if isinstance(results.get("nginx_has_tp"), dict):
        lines = results["nginx_has_tp"]["head"].split("\r\n")
        tps = [l for l in lines if l.lower().startswith("traceparent:")]
        f.check(tps == ["traceparent: 00-%s-%s-01" % (CALLER_TRACE, CALLER_SPAN)],
                "nginx forwarding a request with a traceparent adds no second one (%s)" % tps)
    if isinstance(results.get("nginx_post"), dict):
        f.check(results["nginx_post"]["body_sha256"] == hashlib.sha256(POST_BODY).hexdigest(),
                "nginx as client: the 1 MiB body arrived byte for byte")

    for what, pair in ids.items():
        if not pair:
            continue
        client_service = "nginx" if what.startswith("nginx_") and what != "nginx_server" else "caller"
        server_service = "nginx" if what == "nginx_server" else "hashsrv"
        client = check_joined(f, what, spans, pair, client_service, server_service)
        if client:
            parent = [s for s in spans if s["span_id"] == client["parent_span_id"]]
            f.check(len(parent) == 1 and parent[0]["kind"] == "SERVER" and
                    resource_service(parent[0]) == client_service,
                    "%s: A's CLIENT span is the child of A's %s SERVER span (%s)" %
                    (what, client_service, [describe(s) for s in parent]))
    held, count = results.get("sockhash_while_open"), results.get("sockhash_after_close")
    if held is None or count is None:
        print("NOTE: could not read the sockhash with bpftool; close check skipped")
    else:
        f.check(held == 1, "the one open client connection is in weft A's sockhash (%s)" % held)
        f.check(count == 0, "no socket is left in weft A's sockhash after they closed (%s)" % count)
    m = re.search(r"propagation: (\d+) requests given a traceparent", stderr_a)
    if m:
        f.check(int(m.group(1)) >= 8, "weft A counted its insertions (%s)" % m.group(1))
    if f.items:
        print("spans exported:")
        for s in sorted(spans, key=lambda s: s["start_unix_nano"]):
            print("  trace=%s parent=%s %s" % (s["trace_id"], s["parent_span_id"], describe(s)))
    f.finish()


if __name__ == "__main__":
    main()
