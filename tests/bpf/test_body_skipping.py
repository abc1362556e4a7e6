"""Capture only what parsing needs (issue 5): of a message whose body length
is declared, the kernel copies the head and reports the body by size; chunked
bodies, and everything with --capture-bodies, are copied as before.

    test_body_skipping.py
"""
import os
import subprocess
import sys
import tempfile
import textwrap

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "lib"))
import weftlib  # noqa: E402
from weftlib import data_bytes  # noqa: E402

SERVER = textwrap.dedent(r'''
    import sys
    from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, *args):
            pass

        def do_GET(self):
            if self.path.startswith("/one-write/"):
                n = int(self.path.rsplit("/", 1)[1])
                head = b"HTTP/1.1 200 OK\r\nContent-Length: %d\r\n\r\n" % n
                self.wfile.write(head + b"a" * n)
            elif self.path.startswith("/pieces/"):
                n = int(self.path.rsplit("/", 1)[1])
                self.wfile.write(b"HTTP/1.1 200 OK\r\nContent-Length: %d\r\n\r\n" % n)
                for i in range(0, n, 16384):
                    self.wfile.write(b"b" * min(16384, n - i))
            elif self.path == "/chunked":
                self.wfile.write(b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n")
                self.wfile.write(b"800\r\n" + b"c" * 2048 + b"\r\n")
                self.wfile.write(b"0\r\n\r\n")

        def do_POST(self):
            n = int(self.headers["Content-Length"])
            self.rfile.read(n)
            self.wfile.write(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok")

    ThreadingHTTPServer(("127.0.0.1", int(sys.argv[1])), Handler).serve_forever()
''')


def run_weft(server_pid, port, extra, upload):
    with weftlib.Weft(["run", "--events", "--pid", str(server_pid)] + extra) as weft:
        weft.wait_ready()
        base = "http://127.0.0.1:%d" % port
        for path in ("/one-write/20000", "/pieces/65536", "/chunked"):
            subprocess.run(["curl", "-sf", "-o", "/dev/null", base + path], check=True)
        subprocess.run(["curl", "-sf", "-o", "/dev/null", "--data-binary", "@" + upload,
                        "-H", "Expect:", base + "/upload"], check=True)
        code, _ = weft.stop()
        return code, weft.events(), "\n".join(weft.stderr_lines)


def server_events(events, pid, direction):
    return [e for e in events if e["type"] == "data" and e["tgid"] == pid and
            e["direction"] == direction]


def message(events, start):
    """The events of the connection whose message starts with `start`, in order."""
    first = [e for e in events if data_bytes(e).startswith(start)]
    if not first:
        return []
    conn = first[0]["conn_id"]
    return [e for e in events if e["conn_id"] == conn]


def main():
    weftlib.require_bpf()
    f = weftlib.Failures()
    port = weftlib.free_port()
    with tempfile.TemporaryDirectory() as tmp:
        script = os.path.join(tmp, "server.py")
        with open(script, "w") as out:
            out.write(SERVER)
        upload = os.path.join(tmp, "upload.bin")
        with open(upload, "wb") as out:
            out.write(b"u" * 100000)
        server = subprocess.Popen([weftlib.PYTHON, script, str(port)])
        try:
            weftlib.wait_for_port(port)
            code, events, stderr = run_weft(server.pid, port, [], upload)
            f.check(code == 0, "weft exits 0")
            out = server_events(events, server.pid, "egress")

            one = [e for e in out if data_bytes(e).startswith(b"HTTP/1.1 200 OK\r\nContent-Length: 20000")]
            f.check(len(one) == 1, "the one-write response is one event (%d)" % len(one))
            if one:
                e = one[0]
                f.check(e["body_skipped"] and data_bytes(e).endswith(b"\r\n\r\n") and
                        e["captured_len"] < 64 and e["total_len"] == e["captured_len"] + 20000,
                        "one write: only the head copied (%d of %d bytes), body_skipped" %
                        (e["captured_len"], e["total_len"]))

            pieces = message(out, b"HTTP/1.1 200 OK\r\nContent-Length: 65536")
            body = pieces[1:]
            f.check(len(body) >= 4 and all(p["captured_len"] == 0 and p["body_skipped"]
                                            for p in body) and
                    sum(p["total_len"] for p in body) == 65536,
                    "body written in pieces: every piece reported by size only (%s)" %
                    [(p["captured_len"], p["total_len"]) for p in body])

            chunked = message(out, b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked")
            f.check(len(chunked) >= 2 and not any(p["body_skipped"] for p in chunked) and
                    b"c" * 2048 in b"".join(data_bytes(p) for p in chunked),
                    "chunked body copied: its framing lives in the body")

            inbound = server_events(events, server.pid, "ingress")
            post = message(inbound, b"POST /upload HTTP/1.1")
            # The first read holds the head (and maybe some body); every later
            # read is body and reported by size.
            f.check(post and data_bytes(post[0]).endswith(b"\r\n\r\n") and
                    all(p["body_skipped"] and p["captured_len"] == 0 for p in post[1:]) and
                    sum(p["total_len"] - p["captured_len"] for p in post) == 100000,
                    "uploaded body: 100000 bytes reported by size, head copied (%s)" %
                    [(p["captured_len"], p["total_len"], p["body_skipped"]) for p in post])
            f.check("body bytes not copied" in stderr, "weft's exit line counts skipped bytes")

            code, events, _ = run_weft(server.pid, port, ["--capture-bodies"], upload)
            out = server_events(events, server.pid, "egress")
            one = [e for e in out if data_bytes(e).startswith(b"HTTP/1.1 200 OK\r\nContent-Length: 20000")]
            f.check(one and not one[0]["body_skipped"] and one[0]["captured_len"] == 4096,
                    "--capture-bodies: the body is copied up to --capture-bytes (%s)" %
                    [e["captured_len"] for e in one])
        finally:
            server.kill()
            server.wait()
    f.finish()


if __name__ == "__main__":
    main()
