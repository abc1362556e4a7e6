#!/usr/bin/python3
"""Reactor plus worker pool, the shape of Tomcat NIO or Jetty, for the
accuracy harness. No tracing code.

    thread_pool.py PORT [DOWNSTREAM_PORT]

One thread (the reactor) accepts connections and reads every request; a
concurrent.futures pool thread then sleeps, makes the downstream calls and
writes the answer. So the thread that reads a request never writes its
answer, and the reactor reads many requests before any is answered. Same
URL contract as threaded_flask.py; downstream calls go one after another
(http.client, a new connection each); answers close the connection.
"""
import http.client
import selectors
import socket
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from urllib.parse import parse_qs, urlsplit

PORT = int(sys.argv[1])
DOWNSTREAM_PORT = int(sys.argv[2]) if len(sys.argv) > 2 else 0
POOL = ThreadPoolExecutor(max_workers=8)
MAX_HEADER_BYTES = 16384


def call(path):
    conn = http.client.HTTPConnection("127.0.0.1", DOWNSTREAM_PORT, timeout=30)
    try:
        conn.request("GET", path)
        reply = conn.getresponse()
        reply.read()
        return reply.status
    except OSError:
        return 599
    finally:
        conn.close()


def answer(sock, status, body):
    reason = {200: "OK", 404: "Not Found", 502: "Bad Gateway"}.get(status, "Error")
    payload = body.encode()
    head = "HTTP/1.1 %d %s\r\nContent-Type: text/plain\r\nContent-Length: %d\r\n" \
           "Connection: close\r\n\r\n" % (status, reason, len(payload))
    try:
        sock.sendall(head.encode() + payload)
    except OSError:
        pass
    finally:
        sock.close()


def work(sock, target):
    """Runs on a pool thread: everything after the request was read."""
    url = urlsplit(target)
    parts = url.path.split("/")
    if len(parts) != 4 or parts[1] != "r" or not parts[3].isdigit():
        answer(sock, 404, "not found\n")
        return
    rid, depth = parts[2], int(parts[3])
    query = {k: v[0] for k, v in parse_qs(url.query).items()}
    time.sleep(int(query.get("sleep", 0)) / 1000.0)
    fan = int(query.get("fan", 0))
    if DOWNSTREAM_PORT and depth > 0:
        leaf = query.get("leaf", "0")
        for j in range(1, fan + 1):
            status = call("/r/%s-%d/%d?sleep=%s" % (rid, j, depth - 1, leaf))
            if status != 200:
                answer(sock, 502, "downstream %d\n" % status)
                return
    answer(sock, 200, "ok %s\n" % rid)


def main():
    listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    listener.bind(("127.0.0.1", PORT))
    listener.listen(256)
    selector = selectors.DefaultSelector()
    selector.register(listener, selectors.EVENT_READ, None)
    pending = {}  # socket -> bytes read so far
    while True:
        for key, _ in selector.select():
            if key.fileobj is listener:
                sock, _ = listener.accept()
                pending[sock] = b""
                selector.register(sock, selectors.EVENT_READ, None)
                continue
            sock = key.fileobj
            chunk = sock.recv(65536)
            data = pending[sock] + chunk
            if chunk and b"\r\n\r\n" not in data and len(data) < MAX_HEADER_BYTES:
                pending[sock] = data
                continue
            selector.unregister(sock)
            del pending[sock]
            request_line = data.split(b"\r\n", 1)[0].decode("latin-1").split()
            if not chunk or len(request_line) != 3 or request_line[0] != "GET":
                sock.close()
                continue
            POOL.submit(work, sock, request_line[1])


if __name__ == "__main__":
    main()
