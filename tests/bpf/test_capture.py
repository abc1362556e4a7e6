"""Kernel capture, end to end: real processes, real syscalls, each syscall
family, IPv6, a connection opened before weft, a forked child, truncation,
both ends of a same-node connection. Usage: test_capture.py <backend>."""
import os
import socket
import subprocess
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "lib"))
import weftlib  # noqa: E402
from weftlib import data_bytes  # noqa: E402

PEERS = os.path.join(os.path.dirname(os.path.abspath(__file__)), "peers")


def exchange(port, payload, family=socket.AF_INET, sock=None):
    host = "::1" if family == socket.AF_INET6 else "127.0.0.1"
    s = sock or socket.create_connection((host, port))
    local_port = s.getsockname()[1]
    s.sendall(payload)
    reply = b""
    while True:
        chunk = s.recv(65536)
        if not chunk:
            break
        reply += chunk
    s.close()
    return local_port, reply


def conn_events(events, server_pid, client_port, direction):
    return [e for e in events if e["type"] == "data" and e["tgid"] == server_pid and
            e["tuple"]["remote_port"] == client_port and e["direction"] == direction]


def contiguous(evs):
    return all((a["seq"] + a["total_len"]) % 2**32 == b["seq"] for a, b in zip(evs, evs[1:]))


def main():
    backend = sys.argv[1] if len(sys.argv) > 1 else "socket"
    weftlib.require_bpf()
    f = weftlib.Failures()
    port, port6 = weftlib.free_port(), weftlib.free_port(socket.AF_INET6)

    server = subprocess.Popen([weftlib.PYTHON, os.path.join(PEERS, "syscall_server.py"),
                               str(port), str(port6)], stdout=subprocess.PIPE, text=True)
    client = subprocess.Popen([weftlib.PYTHON, os.path.join(PEERS, "syscall_client.py")],
                              stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    try:
        assert server.stdout.readline().startswith("ready")
        assert client.stdout.readline().startswith("ready")
        # Opened before weft starts; used after.
        pre = socket.create_connection(("127.0.0.1", port))
        time.sleep(0.2)

        weft = weftlib.Weft(["run", "--events", "--backend", backend, "--capture-bytes", "4096",
                             "--pid", str(server.pid), "--pid", str(client.pid)])
        with weft:
            weft.wait_ready()
            results = {}
            results["pre"] = exchange(port, b"send:opened-before-weft", sock=pre)
            bodies = {
                "read": b"read:plain-read-write-payload",
                "readv": b"readv:vectored-io-payload-0123456789",
                "send": b"send:send-recv-payload",
                "msg": b"msg:sendmsg-recvmsg-payload",
                "mmsg": b"mmsg:" + b"A" * 20 + b"b" * 30,
                "big": b"big:",
            }
            for name, body in bodies.items():
                results[name] = exchange(port, body)
            results["ipv6"] = exchange(port6, b"send:over-ipv6", family=socket.AF_INET6)

            listener = socket.socket()
            listener.bind(("127.0.0.1", 0))
            listener.listen(1)
            lport = listener.getsockname()[1]
            fork_port, fork_reply = exchange(port, b"fork:%d" % lport)
            conn, _ = listener.accept()
            child_hello = conn.recv(64)
            conn.close()
            listener.close()

            client.stdin.write("go %d\n" % port)
            client.stdin.flush()
            done = client.stdout.readline().split()
            traced_client_port = int(done[1])
            time.sleep(0.5)
            code, took = weft.stop()
            events = weft.events()

        f.check(code == 0, "weft exits 0 on SIGTERM (got %d)" % code)
        f.check(took < 2.0, "weft exits within 2 s of SIGTERM (took %.2fs)" % took)
        spid = server.pid
        expected_sources = {
            "read": ("read", "write"), "readv": ("readv", "writev"), "send": ("recvfrom", "sendto"),
            "msg": ("recvmsg", "sendmsg"), "mmsg": ("recvmmsg", "sendmmsg"),
        }
        for name, (src_in, src_out) in expected_sources.items():
            cport, reply = results[name]
            ins = conn_events(events, spid, cport, "ingress")
            outs = conn_events(events, spid, cport, "egress")
            got_in = b"".join(data_bytes(e) for e in ins)
            got_out = b"".join(data_bytes(e) for e in outs)
            f.check(got_in == bodies[name], "%s: request bytes captured (%r)" % (name, got_in[:40]))
            f.check(got_out == reply, "%s: response bytes captured (%r)" % (name, got_out[:40]))
            f.check(ins and all(e["source"] == src_in for e in ins),
                    "%s: ingress source is %s (%s)" % (name, src_in, [e["source"] for e in ins]))
            f.check(outs and all(e["source"] == src_out for e in outs),
                    "%s: egress source is %s (%s)" % (name, src_out, [e["source"] for e in outs]))
            f.check(all(e["role"] == "server" and e["tid"] == spid for e in ins + outs),
                    "%s: role server and tid of the server thread" % name)
            f.check(all(e["tuple"]["local_port"] == port and e["tuple"]["local_addr"] == "127.0.0.1"
                        and e["tuple"]["remote_addr"] == "127.0.0.1" for e in ins + outs),
                    "%s: tuple 127.0.0.1:%d <- 127.0.0.1:%d" % (name, port, cport))
            f.check(contiguous(ins) and contiguous(outs), "%s: sequence numbers contiguous" % name)
            f.check(all(e["total_len"] == len(data_bytes(e)) for e in ins + outs),
                    "%s: total_len equals captured bytes for small calls" % name)
        mm_in = conn_events(events, spid, results["mmsg"][0], "ingress")
        f.check(len(mm_in) == 2 and [e["total_len"] for e in mm_in] == [25, 30],
                "mmsg: recvmmsg gives one event per message (%s)" % [e["total_len"] for e in mm_in])
        mm_out = conn_events(events, spid, results["mmsg"][0], "egress")
        f.check(len(mm_out) == 2, "mmsg: sendmmsg gives one event per message (%d)" % len(mm_out))

        pre_in = conn_events(events, spid, results["pre"][0], "ingress")
        f.check(b"".join(data_bytes(e) for e in pre_in) == b"send:opened-before-weft",
                "connection opened before weft started is captured on first use")

        v6 = [e for e in events if e["type"] == "data" and e["tgid"] == spid and
              e["tuple"]["family"] == "ipv6"]
        f.check(any(data_bytes(e) == b"send:over-ipv6" for e in v6), "IPv6 request captured")
        f.check(v6 and all(e["tuple"]["local_addr"] == "::1" and e["tuple"]["local_port"] == port6
                    for e in v6), "IPv6 tuple is [::1]:%d (%s)" % (port6, [e["tuple"] for e in v6][:2]))

        big = conn_events(events, spid, results["big"][0], "egress")
        truncated = [e for e in big if e["truncated"]]
        f.check(sum(e["total_len"] for e in big) == 200000,
                "large write: total_len adds up to 200000 (%d)" % sum(e["total_len"] for e in big))
        f.check(truncated and all(e["captured_len"] == 4096 and e["total_len"] > 4096 and
                                  data_bytes(e) == b"B" * 4096 for e in truncated),
                "large write: truncated at --capture-bytes 4096 with the first bytes kept")

        child_pid = int(fork_reply.split()[1])
        forks = [e for e in events if e["type"] == "fork" and e["tgid"] == child_pid]
        f.check(forks and forks[0]["parent_tgid"] == spid, "fork of a traced process reported")
        child_out = [e for e in events if e["type"] == "data" and e["tgid"] == child_pid and
                     e["direction"] == "egress"]
        f.check(child_hello == b"child-hello" and
                any(data_bytes(e) == b"child-hello" for e in child_out),
                "forked child's traffic is traced")
        f.check(any(e["type"] == "data" and e["tgid"] == child_pid and e["role"] == "client"
                    for e in events), "forked child's connect() gives role client")
        f.check(any(e["type"] == "exit" and e["tgid"] == child_pid for e in events),
                "forked child's exit reported")

        # Both ends traced: the client's send and the server's receive of the
        # same bytes carry the same TCP sequence number.
        c_out = [e for e in events if e["type"] == "data" and e["tgid"] == client.pid and
                 e["direction"] == "egress"]
        s_in = conn_events(events, spid, traced_client_port, "ingress")
        f.check(c_out and c_out[0]["role"] == "client" and
                data_bytes(c_out[0]) == b"send:from-traced-client",
                "traced client's request captured with role client")
        f.check(c_out and s_in and c_out[0]["seq"] == s_in[0]["seq"],
                "client egress seq equals server ingress seq (%s vs %s)" %
                (c_out[0]["seq"] if c_out else None, s_in[0]["seq"] if s_in else None))
        closes = [e for e in events if e["type"] == "close" and e["tgid"] == spid]
        f.check(len(closes) >= 8, "close events for the server's connections (%d)" % len(closes))
    finally:
        server.kill()
        client.kill()
    f.finish()


if __name__ == "__main__":
    main()
