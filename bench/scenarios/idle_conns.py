"""Scenario 6 (idle connections): weft's memory while it traces a process
holding N open, idle loopback connections, each of which carried one HTTP
exchange (so weft holds per-connection state for all of them).

`idle_conns.py hold N PORT` is the traced process: it prints "ready <pid>",
waits for a line on stdin, opens N connections to PORT, makes one exchange on
each, prints "open <N>" and holds them until stdin closes.
`idle_conns.py serve` is the untraced server end (a separate process, so each
process needs only N descriptors: the hard RLIMIT_NOFILE here is 20000)."""
import json
import os
import resource
import selectors
import socket
import subprocess
import sys
import time

import harness

REQUEST = b"GET /idle HTTP/1.1\r\nHost: bench\r\n\r\n"
RESPONSE = b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n"


def raise_fd_limit(count):
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    want = min(count + 100, hard)
    if soft < want:
        resource.setrlimit(resource.RLIMIT_NOFILE, (want, hard))


def serve(count):
    raise_fd_limit(count)
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(4096)
    listener.setblocking(False)
    selector = selectors.DefaultSelector()
    selector.register(listener, selectors.EVENT_READ)
    print("port %d" % listener.getsockname()[1], flush=True)
    while True:
        for key, _ in selector.select():
            if key.fileobj is listener:
                conn, _ = listener.accept()
                selector.register(conn, selectors.EVENT_READ)
            elif key.fileobj.recv(4096):
                key.fileobj.sendall(RESPONSE)
            else:
                selector.unregister(key.fileobj)
                key.fileobj.close()


def hold(count, port):
    raise_fd_limit(count)
    print("ready %d" % os.getpid(), flush=True)
    sys.stdin.readline()
    held = []
    for _ in range(count):
        client = socket.create_connection(("127.0.0.1", port))
        client.sendall(REQUEST)
        client.recv(4096)
        held.append(client)
    print("open %d" % count, flush=True)
    sys.stdin.read()


def measure(count, settle_seconds=2.0):
    script = os.path.abspath(__file__)
    server = subprocess.Popen([sys.executable, script, "serve", str(count)],
                              stdout=subprocess.PIPE, text=True)
    port = int(server.stdout.readline().split()[1])
    holder = subprocess.Popen([sys.executable, script, "hold", str(count), str(port)],
                              stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    pid = int(holder.stdout.readline().split()[1])
    weft = harness.Weft([pid])
    try:
        rss_before = weft.rss_kib()
        holder.stdin.write("go\n")
        holder.stdin.flush()
        opened = int(holder.stdout.readline().split()[1])
        time.sleep(settle_seconds)
        rss = weft.rss_kib()
        hwm = harness.status_kib(weft.pid, "VmHWM")
        memlock = weft.map_memlock_bytes()
    finally:
        holder.stdin.close()
        holder.wait(30)
        server.kill()
        server.wait()
        counters = weft.stop()
    return {"connections": opened, "rss_kib_before": rss_before, "rss_kib": rss,
            "hwm_kib": hwm, "map_memlock_bytes": memlock, **counters}


if __name__ == "__main__":
    if len(sys.argv) > 2 and sys.argv[1] == "serve":
        serve(int(sys.argv[2]))
    elif len(sys.argv) > 3 and sys.argv[1] == "hold":
        hold(int(sys.argv[2]), int(sys.argv[3]))
    else:
        print(json.dumps(measure(10000), indent=2))
