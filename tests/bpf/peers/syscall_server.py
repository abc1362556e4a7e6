"""A traced peer for the capture tests: a sequential TCP server whose
requests say which syscall family to read and answer them with.

Request "<family>:<body>"; the family is learned with MSG_PEEK, which weft
ignores (peeked bytes are read again), then the real read uses that family.
"""
import ctypes
import os
import selectors
import socket
import sys

libc = ctypes.CDLL("libc.so.6", use_errno=True)


class iovec(ctypes.Structure):
    _fields_ = [("base", ctypes.c_void_p), ("len", ctypes.c_size_t)]


class msghdr(ctypes.Structure):
    _fields_ = [("name", ctypes.c_void_p), ("namelen", ctypes.c_uint32),
                ("iov", ctypes.POINTER(iovec)), ("iovlen", ctypes.c_size_t),
                ("control", ctypes.c_void_p), ("controllen", ctypes.c_size_t),
                ("flags", ctypes.c_int)]


class mmsghdr(ctypes.Structure):
    _fields_ = [("hdr", msghdr), ("len", ctypes.c_uint)]


MSG_WAITFORONE = 0x10000


def recvmmsg(fd, sizes):
    bufs = [ctypes.create_string_buffer(n) for n in sizes]
    iovs = [iovec(ctypes.cast(b, ctypes.c_void_p), n) for b, n in zip(bufs, sizes)]
    msgs = (mmsghdr * len(sizes))()
    for i, v in enumerate(iovs):
        msgs[i].hdr.iov = ctypes.pointer(v)
        msgs[i].hdr.iovlen = 1
    n = libc.recvmmsg(fd, msgs, len(sizes), MSG_WAITFORONE, None)
    if n < 0:
        raise OSError(ctypes.get_errno(), "recvmmsg")
    return [bufs[i].raw[:msgs[i].len] for i in range(n)]


def sendmmsg(fd, parts):
    bufs = [ctypes.create_string_buffer(p, len(p)) for p in parts]
    iovs = [iovec(ctypes.cast(b, ctypes.c_void_p), len(p)) for b, p in zip(bufs, parts)]
    msgs = (mmsghdr * len(parts))()
    for i, v in enumerate(iovs):
        msgs[i].hdr.iov = ctypes.pointer(v)
        msgs[i].hdr.iovlen = 1
    n = libc.sendmmsg(fd, msgs, len(parts), 0)
    if n != len(parts):
        raise OSError(ctypes.get_errno(), "sendmmsg sent %d" % n)


def handle(conn):
    head = conn.recv(64, socket.MSG_PEEK)
    family = head.split(b":", 1)[0].decode()
    fd = conn.fileno()
    if family == "read":
        data = os.read(fd, 65536)
        os.write(fd, b"echo:" + data)
    elif family == "readv":
        small, rest = bytearray(6), bytearray(65536)
        n = os.readv(fd, [small, rest])
        data = bytes(small[:min(n, 6)]) + bytes(rest[:max(0, n - 6)])
        os.writev(fd, [b"echo:", data])
    elif family == "send":
        data = conn.recv(65536)
        conn.send(b"echo:" + data)
    elif family == "msg":
        data = conn.recvmsg(65536)[0]
        conn.sendmsg([b"echo:", data])
    elif family == "mmsg":
        # "mmsg:" + 20 bytes, then 30 bytes: two messages.
        parts = recvmmsg(fd, [25, 30])
        sendmmsg(fd, [b"echo:" + parts[0], parts[1] if len(parts) > 1 else b""])
    elif family == "big":
        conn.recv(65536)
        conn.sendall(b"B" * 200000)
    elif family == "fork":
        data = conn.recv(65536)
        port = int(data.split(b":", 1)[1])
        child = os.fork()
        if child == 0:
            with socket.create_connection(("127.0.0.1", port)) as c:
                c.sendall(b"child-hello")
            os._exit(0)
        os.waitpid(child, 0)
        conn.sendall(b"forked %d" % child)
    else:
        conn.recv(65536)
        conn.sendall(b"unknown family")


def main():
    port, port6 = int(sys.argv[1]), int(sys.argv[2])
    sel = selectors.DefaultSelector()
    for fam, host, p in ((socket.AF_INET, "127.0.0.1", port), (socket.AF_INET6, "::1", port6)):
        s = socket.socket(fam, socket.SOCK_STREAM)
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        s.bind((host, p))
        s.listen(16)
        sel.register(s, selectors.EVENT_READ)
    print("ready %d" % os.getpid(), flush=True)
    while True:
        for key, _ in sel.select():
            conn, _ = key.fileobj.accept()
            with conn:
                try:
                    handle(conn)
                except OSError as e:
                    print("error %s" % e, flush=True)


if __name__ == "__main__":
    main()
