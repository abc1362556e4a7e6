"""A traced client peer: waits for "go <port>" on stdin, then sends one
request to the syscall server and prints "done <local port>"."""
import socket
import sys

print("ready", flush=True)
for line in sys.stdin:
    words = line.split()
    if not words or words[0] != "go":
        continue
    with socket.create_connection(("127.0.0.1", int(words[1]))) as s:
        s.sendall(b"send:from-traced-client")
        reply = b""
        while True:
            chunk = s.recv(4096)
            if not chunk:
                break
            reply += chunk
        print("done %d %s" % (s.getsockname()[1], reply.decode()), flush=True)
