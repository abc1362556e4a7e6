"""Shared pieces of the end-to-end tests: services written by the tests,
an untraced HTTP client, process cleanup, and span tree checks.

Runs under Debian's /usr/bin/python3 (flask and requests for the services).
"""
import os
import signal
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request

_HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(os.path.dirname(_HERE))
sys.path.insert(0, os.path.join(REPO, "tests", "lib"))
sys.path.insert(0, os.path.join(REPO, "tests", "otlp_receiver"))

import weftlib  # noqa: E402
import receiver  # noqa: E402

# Children must talk to loopback directly, whatever the caller's proxy is.
_PROXY_VARS = ("http_proxy", "https_proxy", "HTTP_PROXY", "HTTPS_PROXY", "all_proxy", "ALL_PROXY")


def child_env(extra=None):
    env = {k: v for k, v in os.environ.items() if k not in _PROXY_VARS}
    env["NO_PROXY"] = env["no_proxy"] = "127.0.0.1,::1,localhost"
    env.update(extra or {})
    return env


def receiver_binary():
    """The receiver built next to the weft under test, else the usual search."""
    explicit = os.environ.get("WEFT_OTLP_RECEIVER")
    if explicit:
        return explicit
    beside = os.path.join(weftlib.BUILD_DIR, "tests", "otlp_receiver", "weft-otlp-receiver")
    if os.path.exists(beside):
        return beside
    return receiver.find_receiver_binary()


def start_receiver():
    """A started OtlpReceiver; a missing binary is a loud skip (or a failure
    under WEFT_REQUIRE_BPF=1, like a missing weft)."""
    try:
        binary = receiver_binary()
    except FileNotFoundError as e:
        if os.environ.get("WEFT_REQUIRE_BPF") == "1":
            print("FAIL: %s" % e)
            sys.exit(1)
        print("SKIP: %s" % e)
        sys.exit(weftlib.SKIP)
    return receiver.OtlpReceiver(binary=binary).start()


class Processes:
    """Every process a test starts, each in its own session so that stopping
    it also stops what it started (run.sh's services). Stopped in reverse
    order by process-group id: SIGTERM, then SIGKILL after a grace period."""

    def __init__(self):
        self.started = []
        self.tmpdir = tempfile.TemporaryDirectory(prefix="weft-e2e-")

    def start(self, args, env=None, log_name=None, **kwargs):
        log = None
        if log_name:
            log = open(os.path.join(self.tmpdir.name, log_name), "wb")
        proc = subprocess.Popen(args, env=child_env(env), start_new_session=True,
                                stdout=kwargs.pop("stdout", log or subprocess.DEVNULL),
                                stderr=kwargs.pop("stderr", log or subprocess.DEVNULL), **kwargs)
        self.started.append(proc)
        return proc

    def write_script(self, name, source):
        """Writes a Python service as <name>.py: weft names the service after
        the script, so <name> is the service.name the spans must carry."""
        path = os.path.join(self.tmpdir.name, name + ".py")
        with open(path, "w") as f:
            f.write(source)
        return path

    def start_service(self, name, source, port, env=None, host="127.0.0.1"):
        path = self.write_script(name, source)
        proc = self.start([weftlib.PYTHON, path, str(port)], env=env, log_name=name + ".log")
        try:
            weftlib.wait_for_port(port, host=host, timeout=20)
        except TimeoutError:
            raise RuntimeError("%s did not listen on %d:\n%s" % (name, port, self.log(name + ".log")))
        return proc

    def start_test_service(self, name, port, downstream_port=None, source="service.py",
                           host="127.0.0.1"):
        """tests/e2e/<source> running as service <name> on host:port."""
        with open(os.path.join(_HERE, source)) as f:
            source = f.read()
        env = {"SERVICE_HOST": host}
        if downstream_port is not None:
            env["DOWNSTREAM_URL"] = "http://%s:%d" % ("[%s]" % host if ":" in host else host,
                                                      downstream_port)
        return self.start_service(name, source, port, env=env, host=host)

    def log(self, log_name):
        try:
            with open(os.path.join(self.tmpdir.name, log_name), "rb") as f:
                return f.read().decode("utf-8", "replace")[-4000:]
        except OSError:
            return ""

    def stop_all(self):
        for proc in reversed(self.started):
            if proc.poll() is None:
                try:
                    os.killpg(proc.pid, signal.SIGTERM)
                except ProcessLookupError:
                    pass
        deadline = time.time() + 5
        for proc in reversed(self.started):
            try:
                proc.wait(max(0.1, deadline - time.time()))
            except subprocess.TimeoutExpired:
                pass
            try:
                os.killpg(proc.pid, signal.SIGKILL)  # stragglers of the group
            except (ProcessLookupError, PermissionError):
                pass
            if proc.poll() is None:
                proc.wait(5)
        self.tmpdir.cleanup()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.stop_all()
        return False


_OPENER = urllib.request.build_opener(urllib.request.ProxyHandler({}))


def http_get(url, headers=None, timeout=10):
    """GET from the test process (not traced); returns (status, body bytes)."""
    req = urllib.request.Request(url, headers=headers or {})
    try:
        with _OPENER.open(req, timeout=timeout) as reply:
            return reply.status, reply.read()
    except urllib.error.HTTPError as e:
        return e.code, e.read()


def start_weft(pids, env=None, extra_args=()):
    """weft run over pids (not yet ready: call wait_ready), with an
    environment free of the caller's OTEL_* settings except what env adds.
    Batches go out after 200 ms instead of the default 5 s, unless env sets
    OTEL_BSP_SCHEDULE_DELAY: tests then see spans without waiting for exit."""
    full = {k: v for k, v in os.environ.items() if not k.startswith("OTEL_")}
    full["OTEL_BSP_SCHEDULE_DELAY"] = "200"
    full.update(env or {})
    args = ["run"]
    for pid in pids:
        args += ["--pid", str(pid)]
    args += list(extra_args)
    return _WeftWithEnv(args, full)


class _WeftWithEnv(weftlib.Weft):
    def __init__(self, args, env):
        saved = dict(os.environ)
        try:
            os.environ.clear()
            os.environ.update(env)
            super().__init__(args)
        finally:
            os.environ.clear()
            os.environ.update(saved)


def drive_front(front_port, f, label, clients, per_client, first=0, timeout=20):
    """`clients` threads, each GETting /r/<n> `per_client` times one after
    another (n numbers every request from `first`); checks all answered 200."""
    import threading
    statuses, lock = [], threading.Lock()

    def client(c):
        for j in range(per_client):
            status, _ = http_get("http://127.0.0.1:%d/r/%d" % (
                front_port, first + c * per_client + j), timeout=timeout)
            with lock:
                statuses.append(status)

    threads = [threading.Thread(target=client, args=(c,)) for c in range(clients)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    total = clients * per_client
    f.check(statuses == [200] * total, "%s: %d front requests answered 200" % (label, total))


# ---- span helpers ---------------------------------------------------------

def stop_after_spans(f, weft, rx, count=None, timeout=15):
    """Gives weft up to `timeout` s to export `count` spans (fewer is left for
    the test's own assertions to report), stops it, and checks it exits 0."""
    try:
        rx.wait_for_spans(count=count, timeout=timeout)
    except TimeoutError:
        pass
    code, _ = weft.stop()
    f.check(code == 0, "weft exits 0")


def resource_service(span):
    return span.get("resource", {}).get("service.name")


def by_trace(spans):
    traces = {}
    for s in spans:
        traces.setdefault(s["trace_id"], []).append(s)
    return traces


def children(spans, parent):
    return [s for s in spans if s["parent_span_id"] == parent["span_id"]]


def inside(child, parent, tolerance_ns=0):
    return (child["start_unix_nano"] >= parent["start_unix_nano"] - tolerance_ns and
            child["end_unix_nano"] <= parent["end_unix_nano"] + tolerance_ns)


def describe(span):
    return "%s %s %s %s link=%s path=%s status=%s" % (
        resource_service(span), span["kind"], span["name"], span["span_id"],
        span["attributes"].get("weft.link.source"), span["attributes"].get("url.path"),
        span["attributes"].get("http.response.status_code"))


def attr(span, key):
    return span["attributes"].get(key)
