#!/usr/bin/python3
"""Node B's service for the propagation test: a raw HTTP/1.1 server (keep-alive,
Content-Length bodies) that answers every request with what it received,
byte for byte: the SHA-256 and length of the whole request, of its body, and
the header block as text, and how many reads the header block took. No
tracing code.

    hashsrv.py HOST PORT
"""
import hashlib
import json
import socket
import sys
import threading


def content_length(head):
    for line in head.split(b"\r\n")[1:]:
        name, _, value = line.partition(b":")
        if name.strip().lower() == b"content-length":
            return int(value.strip())
    return 0


def serve(conn):
    buf = b""
    with conn:
        while True:
            head_reads = 0
            while b"\r\n\r\n" not in buf:
                chunk = conn.recv(65536)
                if not chunk:
                    return
                buf += chunk
                head_reads += 1
            head_end = buf.index(b"\r\n\r\n") + 4
            head = buf[:head_end]
            total = head_end + content_length(head)
            while len(buf) < total:
                chunk = conn.recv(1 << 20)
                if not chunk:
                    return
                buf += chunk
            raw, buf = buf[:total], buf[total:]
            reply = json.dumps({
                "sha256": hashlib.sha256(raw).hexdigest(),
                "len": len(raw),
                "body_sha256": hashlib.sha256(raw[head_end:]).hexdigest(),
                "body_len": total - head_end,
                "head": head.decode("latin-1"),
                "head_reads": head_reads,  # 1: the header block came in one piece
            }).encode()
            conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n"
                         b"Content-Length: %d\r\n\r\n%s" % (len(reply), reply))
            if b"connection: close" in head.lower():
                return


def main():
    listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    listener.bind((sys.argv[1], int(sys.argv[2])))
    listener.listen(64)
    while True:
        conn, _ = listener.accept()
        threading.Thread(target=serve, args=(conn,), daemon=True).start()


if __name__ == "__main__":
    main()
