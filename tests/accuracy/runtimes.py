"""The runtimes the accuracy harness measures: each starts a front service
and what it calls, all without tracing code, and says which ports form the
chain (scoring.Tier) and which processes weft must trace.

    python-threaded  Flask (werkzeug, threaded=True) -> Flask
    python-asyncio   aiohttp -> aiohttp (one event loop per process)
    go               net/http -> net/http (goroutine per request; fan-out in
                     goroutines for half of the requests)
    node             Node.js http -> Node.js http (one event loop)
    nginx            nginx reverse proxy (keep-alive upstream) -> Flask
    thread-pool      reactor thread reads, concurrent.futures worker calls
                     and answers -> the same server

A toolchain that is missing raises Unavailable (the caller skips loudly).
"""
import os
import shutil
import subprocess
import time
from dataclasses import dataclass

from scoring import Tier
import weftlib

HERE = os.path.dirname(os.path.abspath(__file__))
SERVICES = os.path.join(HERE, "services")
RUNTIMES = ("python-threaded", "python-asyncio", "go", "node", "nginx", "thread-pool")
# Measured on request, not in the default table: the Go services built
# with -ldflags="-s -w" (no symbol table: weft finds Go's functions in
# .gopclntab).
VARIANTS = ("go-stripped",)
KNOWN = RUNTIMES + VARIANTS


class Unavailable(Exception):
    """The runtime's toolchain is not installed here."""


@dataclass
class Deployment:
    tiers: list  # scoring.Tier, front first
    pids: list  # processes weft traces (with their descendants)


def _wait(procs, proc, port, log_name):
    try:
        weftlib.wait_for_port(port, timeout=30)
    except TimeoutError:
        raise RuntimeError("%s did not listen on %d (exit %s):\n%s" % (
            log_name, port, proc.poll(), procs.log(log_name)))


def _start(procs, name, args, port):
    """One service process named `name` (OTEL_SERVICE_NAME), listening on port."""
    log_name = name + ".log"
    proc = procs.start(args, env={"OTEL_SERVICE_NAME": name}, log_name=log_name)
    _wait(procs, proc, port, log_name)
    return proc


def _python_pair(procs, runtime, script, python_module=None, parallel=False):
    if python_module:
        probe = subprocess.run([weftlib.PYTHON, "-c", "import " + python_module],
                               capture_output=True)
        if probe.returncode != 0:
            raise Unavailable("%s has no %s module (Debian package python3-%s)" %
                              (weftlib.PYTHON, python_module, python_module))
    path = os.path.join(SERVICES, script)
    back_port, front_port = weftlib.free_port(), weftlib.free_port()
    back = _start(procs, runtime + "-back", [weftlib.PYTHON, path, str(back_port)], back_port)
    front = _start(procs, runtime + "-front",
                   [weftlib.PYTHON, path, str(front_port), str(back_port)], front_port)
    return Deployment([Tier(runtime + "-front", front_port, parallel=parallel),
                       Tier(runtime + "-back", back_port)],
                      [front.pid, back.pid])


def _go_tool():
    found = shutil.which("go") or ("/usr/lib/go/bin/go" if os.path.exists("/usr/lib/go/bin/go")
                                   else None)
    if not found:
        raise Unavailable("no Go toolchain (Debian package golang-go)")
    return found


def build_go_service(out_dir, stripped=False):
    """Builds services/go_http offline (standard library only, GOPATH mode,
    caches in out_dir), without symbols when `stripped`; returns the
    binary's path."""
    go = _go_tool()
    binary = os.path.join(out_dir, "go-service")
    env = dict(os.environ, GOCACHE=os.path.join(out_dir, "gocache"),
               GOPATH=os.path.join(out_dir, "gopath"), GO111MODULE="off", GOFLAGS="",
               GOPROXY="off", CGO_ENABLED="0")
    env.setdefault("HOME", out_dir)  # go wants one for its settings file
    flags = ["-ldflags=-s -w"] if stripped else []
    done = subprocess.run([go, "build"] + flags + ["-o", binary, "main.go"], cwd=os.path.join(
        SERVICES, "go_http"), env=env, capture_output=True, text=True, timeout=300)
    if done.returncode != 0:
        raise RuntimeError("go build failed:\n%s%s" % (done.stdout, done.stderr))
    return binary


def _go_pair(procs, runtime="go"):
    binary = build_go_service(procs.tmpdir.name, stripped=runtime == "go-stripped")
    back_port, front_port = weftlib.free_port(), weftlib.free_port()
    back = _start(procs, runtime + "-back", [binary, str(back_port)], back_port)
    front = _start(procs, runtime + "-front", [binary, str(front_port), str(back_port)],
                   front_port)
    return Deployment([Tier(runtime + "-front", front_port, parallel=True),
                       Tier(runtime + "-back", back_port)],
                      [front.pid, back.pid])


def _node_pair(procs):
    node = shutil.which("node") or ("/usr/bin/node" if os.path.exists("/usr/bin/node") else None)
    if not node:
        raise Unavailable("no Node.js (/usr/bin/node)")
    path = os.path.join(SERVICES, "node_http.js")
    back_port, front_port = weftlib.free_port(), weftlib.free_port()
    back = _start(procs, "node-back", [node, path, str(back_port)], back_port)
    front = _start(procs, "node-front", [node, path, str(front_port), str(back_port)], front_port)
    return Deployment([Tier("node-front", front_port, parallel=True), Tier("node-back", back_port)],
                      [front.pid, back.pid])


NGINX_CONF = """daemon off;
worker_processes auto;
pid {dir}/nginx.pid;
error_log {dir}/nginx-error.log warn;
env OTEL_SERVICE_NAME;
events {{ worker_connections 1024; }}
http {{
  access_log off;
  client_body_temp_path {dir}/body;
  proxy_temp_path {dir}/proxy;
  fastcgi_temp_path {dir}/fastcgi;
  uwsgi_temp_path {dir}/uwsgi;
  scgi_temp_path {dir}/scgi;
  upstream backend {{
    server 127.0.0.1:{back};
    keepalive 16;
  }}
  server {{
    listen 127.0.0.1:{port};
    location /r/ {{
      proxy_pass http://backend;
      proxy_http_version 1.1;
      proxy_set_header Connection "";
      proxy_set_header Host 127.0.0.1:{back};
      proxy_read_timeout 30s;
    }}
  }}
}}
"""


def _nginx(procs):
    nginx = shutil.which("nginx") or ("/usr/sbin/nginx" if os.path.exists("/usr/sbin/nginx")
                                      else None)
    if not nginx:
        raise Unavailable("no nginx (Debian package nginx-light)")
    back_port, front_port = weftlib.free_port(), weftlib.free_port()
    back = _start(procs, "nginx-back",
                  [weftlib.PYTHON, os.path.join(SERVICES, "threaded_flask.py"), str(back_port)],
                  back_port)
    conf = os.path.join(procs.tmpdir.name, "nginx.conf")
    with open(conf, "w") as out:
        out.write(NGINX_CONF.format(dir=procs.tmpdir.name, port=front_port, back=back_port))
    master = _start(procs, "nginx", [nginx, "-p", procs.tmpdir.name, "-c", conf], front_port)
    time.sleep(0.3)  # the workers fork after the listener opens
    return Deployment([Tier("nginx", front_port, proxy=True), Tier("nginx-back", back_port)],
                      [master.pid, back.pid])


def deploy(runtime, procs):
    """Starts `runtime`'s services under `procs` (e2elib.Processes)."""
    if runtime == "python-threaded":
        return _python_pair(procs, runtime, "threaded_flask.py")
    if runtime == "python-asyncio":
        return _python_pair(procs, runtime, "asyncio_aiohttp.py", python_module="aiohttp",
                            parallel=True)
    if runtime == "thread-pool":
        return _python_pair(procs, runtime, "thread_pool.py")
    if runtime in ("go", "go-stripped"):
        return _go_pair(procs, runtime)
    if runtime == "node":
        return _node_pair(procs)
    if runtime == "nginx":
        return _nginx(procs)
    raise ValueError("unknown runtime %r (known: %s)" % (runtime, ", ".join(KNOWN)))
