#!/usr/bin/python3
"""Node A's service for the propagation test: GET /call/<mode>?target=HOST:PORT
makes calls to node B the way unmodified clients do, remembers exactly what it
sent, and answers with JSON: for each request sent, its bytes' SHA-256, length
and header block, and what B said it received. No tracing code.

Modes: get (one request, one send), post (1 MiB body written in 64 KiB
pieces after the headers), keepalive (3 requests on one connection),
has_tp (the request already carries a traceparent), requests (the requests
library), nginx (a GET whose answer is nginx's "$http_traceparent|$request_length"),
fionread (FIONREAD on a socket in weft's sockhash, against what recv returns),
hold (a GET whose connection stays open 3 s after the answer).

    caller.py HOST PORT
"""
import fcntl
import hashlib
import json
import select
import socket
import struct
import sys
import termios
import threading
import time
import urllib.parse
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import requests

CALLER_TRACEPARENT = "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01"


def read_response(sock, buf=b""):
    while b"\r\n\r\n" not in buf:
        chunk = sock.recv(65536)
        if not chunk:
            raise ConnectionError("closed before a response")
        buf += chunk
    head_end = buf.index(b"\r\n\r\n") + 4
    length = 0
    for line in buf[:head_end].split(b"\r\n")[1:]:
        name, _, value = line.partition(b":")
        if name.strip().lower() == b"content-length":
            length = int(value.strip())
    while len(buf) < head_end + length:
        chunk = sock.recv(65536)
        if not chunk:
            raise ConnectionError("closed inside a response")
        buf += chunk
    return buf[head_end:head_end + length], buf[head_end + length:]


def record(head, body, answer):
    raw = head + body
    return {"sent_sha256": hashlib.sha256(raw).hexdigest(), "sent_len": len(raw),
            "sent_head": head.decode("latin-1"), "answer": answer}


def request_head(method, path, host, extra=b"", close=True, length=None):
    head = b"%s %s HTTP/1.1\r\nHost: %s\r\nUser-Agent: weft-caller\r\n" % (
        method, path, host.encode())
    if length is not None:
        head += b"Content-Length: %d\r\n" % length
    head += extra
    if close:
        head += b"Connection: close\r\n"
    return head + b"\r\n"


def call(mode, target):
    host, port = target.rsplit(":", 1)
    if mode == "requests":
        reply = requests.get("http://%s/requests" % target, timeout=10)
        return [{"answer": reply.json()}]
    if mode == "hold":
        # One request, then the connection stays open for 3 s: the test looks
        # at the sockhash while it is open and after it closed.
        sock = socket.create_connection((host, int(port)), timeout=10)
        head = request_head(b"GET", b"/hold", target, close=False)
        sock.sendall(head)
        answer = json.loads(read_response(sock)[0])
        threading.Timer(3.0, sock.close).start()
        return [record(head, b"", answer)]
    out = []
    with socket.create_connection((host, int(port)), timeout=10) as sock:
        if mode in ("get", "nginx"):
            head = request_head(b"GET", b"/get", target)
            sock.sendall(head)
            body, _ = read_response(sock)
            answer = body.decode() if mode == "nginx" else json.loads(body)
            out.append(record(head, b"", answer))
        elif mode == "has_tp":
            head = request_head(b"GET", b"/has_tp", target,
                                extra=b"traceparent: %s\r\n" % CALLER_TRACEPARENT.encode())
            sock.sendall(head)
            out.append(record(head, b"", json.loads(read_response(sock)[0])))
        elif mode == "post":
            body = bytes((i * 7 + 3) & 0xFF for i in range(1 << 20))
            head = request_head(b"POST", b"/upload", target, length=len(body))
            sock.sendall(head)
            for at in range(0, len(body), 64 * 1024):
                sock.sendall(body[at:at + 64 * 1024])
            out.append(record(head, body, json.loads(read_response(sock)[0])))
        elif mode == "keepalive":
            rest = b""
            for i in range(3):
                head = request_head(b"GET", b"/keepalive/%d" % i, target, close=(i == 2))
                sock.sendall(head)
                body, rest = read_response(sock, rest)
                out.append(record(head, b"", json.loads(body)))
        elif mode == "fionread":
            head = request_head(b"GET", b"/fionread", target)
            sock.sendall(head)
            select.select([sock], [], [], 10)
            time.sleep(0.2)  # the whole (small) response is in by now
            pending = struct.unpack("i", fcntl.ioctl(sock.fileno(), termios.FIONREAD,
                                                     b"\0\0\0\0"))[0]
            data = sock.recv(1 << 20)
            out.append({"fionread": pending, "recv": len(data)})
    return out


class Handler(BaseHTTPRequestHandler):
    def do_GET(self):
        url = urllib.parse.urlparse(self.path)
        mode = url.path.rsplit("/", 1)[-1]
        target = urllib.parse.parse_qs(url.query)["target"][0]
        try:
            reply, status = json.dumps(call(mode, target)).encode(), 200
        except Exception as e:  # the test reports it
            reply, status = json.dumps({"error": repr(e)}).encode(), 500
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(reply)))
        self.end_headers()
        self.wfile.write(reply)

    def log_message(self, *args):
        pass


if __name__ == "__main__":
    ThreadingHTTPServer((sys.argv[1], int(sys.argv[2])), Handler).serve_forever()
