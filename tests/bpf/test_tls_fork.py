"""TLS uprobes are attached per traced process (docs/tls.md):

- a traced process that already maps libssl forks a child after weft is
  ready; the child (no exec: it inherits the mapping, not the parent's
  pid-filtered uprobes) serves HTTPS and its requests become https SERVER
  spans, because weft attaches to it when the fork arrives;
- an untraced process using the same libssl file at the same time never
  traps: the kernel did not put a uprobe breakpoint in its address space, so
  it has no "[uprobes]" area (the page the kernel maps into a process on its
  first uprobe hit, holding the return trampoline and single-step slots);
- the traced child does have that area (the probes fired there).
"""
import os
import shutil
import subprocess
import sys
import time

_HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, _HERE)
import test_tls  # noqa: E402
from e2elib import attr, describe  # noqa: E402
import weftlib  # noqa: E402

# Loads libssl (an SSL context) at start, then waits; on the trigger it
# forks, and the child serves HTTPS on the port without any exec.
FORKER = r'''
import http.server, json, os, ssl, sys, time
trigger, port, pid_file = sys.argv[1], int(sys.argv[2]), sys.argv[3]
context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
context.load_cert_chain(os.environ["TLS_CERT"], os.environ["TLS_KEY"])


class Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def do_GET(self):
        body = json.dumps({"path": self.path}).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args):
        pass


while not os.path.exists(trigger):
    time.sleep(0.05)
child = os.fork()
if child == 0:
    with open(pid_file + ".tmp", "w") as out:
        out.write(str(os.getpid()))
    os.rename(pid_file + ".tmp", pid_file)
    server = http.server.HTTPServer(("127.0.0.1", port), Handler)
    server.socket = context.wrap_socket(server.socket, server_side=True)
    server.serve_forever()
os.waitpid(child, 0)
'''

# An untraced HTTPS client: makes requests, then says whether the kernel
# ever mapped a uprobe area into it.
UNTRACED_CLIENT = r'''
import http.client, ssl, sys
port, cert, n = int(sys.argv[1]), sys.argv[2], int(sys.argv[3])
context = ssl.create_default_context(cafile=cert)
conn = http.client.HTTPSConnection("127.0.0.1", port, timeout=15, context=context)
statuses = []
for i in range(n):
    conn.request("GET", "/untraced/%d" % i)
    reply = conn.getresponse()
    reply.read()
    statuses.append(reply.status)
conn.close()
with open("/proc/self/maps") as maps:
    trapped = any(line.rstrip().endswith("[uprobes]") for line in maps)
print("statuses=%s trapped=%s" % (statuses, trapped), flush=True)
'''


def foreign_libssl_uprobe_owners():
    """Processes other than this test's weft holding uprobes on a libssl (any
    other weft on a shared node): a node-wide one makes every process trap."""
    bpftool = shutil.which("bpftool") or "/usr/sbin/bpftool"
    if not os.path.exists(bpftool):
        return set()
    out = subprocess.run([bpftool, "perf"], capture_output=True, text=True).stdout
    owners = set()
    for line in out.splitlines():
        fields = line.split()
        if "uprobe" not in fields or "libssl" not in line or len(fields) < 2:
            continue
        try:
            with open("/proc/%s/stat" % fields[1]) as stat:
                parent = int(stat.read().rsplit(")", 1)[1].split()[1])
        except (OSError, ValueError):
            continue
        if parent != os.getpid():
            owners.add(int(fields[1]))
    return owners


def has_uprobe_area(pid):
    try:
        with open("/proc/%d/maps" % pid) as maps:
            return any(line.rstrip().endswith("[uprobes]") for line in maps)
    except OSError:
        return None


def check_forked_child(f, procs, cert):
    trigger = os.path.join(procs.tmpdir.name, "fork-now")
    pid_file = os.path.join(procs.tmpdir.name, "child.pid")
    port = weftlib.free_port()
    forker_path = procs.write_script("forker", FORKER)
    client_path = procs.write_script("untraced_client", UNTRACED_CLIENT)
    forker = procs.start([weftlib.PYTHON, forker_path, trigger, str(port), pid_file],
                         env={"TLS_CERT": cert, "TLS_KEY": cert.replace("cert", "key")},
                         log_name="forker.log")
    time.sleep(0.5)  # the forker has loaded libssl before weft starts
    statuses, untraced, child, foreign = [], [], [], set()

    def run():
        open(trigger, "w").close()
        weftlib.wait_for_port(port, timeout=20)
        # The fork reaches weft through the ring buffer (batched: up to one
        # poll interval) and the attach takes a few ms; see docs/tls.md.
        time.sleep(0.5)
        for i in range(3):
            statuses.append(test_tls.https_get(port, "/child/%d" % i, cert))
        foreign.update(foreign_libssl_uprobe_owners())
        done = subprocess.run([weftlib.PYTHON, client_path, str(port), cert, "3"],
                              capture_output=True, text=True, timeout=60)
        untraced.append(done.stdout.strip() or done.stderr.strip())
        foreign.update(foreign_libssl_uprobe_owners())
        with open(pid_file) as pid_in:
            child.append(int(pid_in.read()))
        child.append(has_uprobe_area(child[0]))

    code, spans = test_tls.collect([forker.pid], 6, run)
    f.check(code == 0, "weft exits 0")
    f.check(statuses == [200] * 3, "forked child answered 3 HTTPS requests (%s)" % statuses)
    servers = [s for s in spans if s["kind"] == "SERVER"]
    paths = sorted(attr(s, "url.path") for s in servers)
    f.check(paths[:3] == ["/child/0", "/child/1", "/child/2"],
            "forked child: SERVER spans for its requests (%s)" % [describe(s) for s in spans])
    f.check(all(attr(s, "url.scheme") == "https" for s in servers),
            "forked child: url.scheme https")
    f.check(untraced and untraced[0].startswith("statuses=[200, 200, 200]"),
            "the untraced client was answered (%s)" % untraced)
    if foreign:
        print("skip  untraced process never trapped: other processes %s hold uprobes on "
              "libssl (another weft on this node), so any process may trap" % sorted(foreign))
    else:
        f.check(untraced == ["statuses=[200, 200, 200] trapped=False"],
                "an untraced process using the same libssl never trapped (%s)" % untraced)
    f.check(child[1:] == [True], "the traced child has a uprobe area (%s)" % child)


def main():
    test_tls.BACKEND = sys.argv[1] if len(sys.argv) > 1 else "socket"
    weftlib.require_bpf()
    if not test_tls.shutil.which("openssl"):
        print("SKIP: the openssl command is not installed (scripts/setup installs it)")
        sys.exit(weftlib.SKIP)
    f = weftlib.Failures()
    with test_tls.e2elib.Processes() as procs:
        cert, _ = test_tls.make_certificate(procs.tmpdir.name)
        check_forked_child(f, procs, cert)
    f.finish()


if __name__ == "__main__":
    main()
