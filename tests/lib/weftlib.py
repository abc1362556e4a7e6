"""Helpers for weft's privileged tests: start weft, wait until it traces,
read what it printed, stop it the way users do (SIGTERM).

Runs under Debian's /usr/bin/python3, standard library only.
"""
import json
import os
import signal
import socket
import subprocess
import sys
import threading
import time

SKIP = 77  # ctest SKIP_RETURN_CODE

BUILD_DIR = os.environ.get(
    "WEFT_BUILD_DIR",
    os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "build"))
WEFT = os.environ.get("WEFT_BIN", os.path.join(BUILD_DIR, "weft"))
PYTHON = "/usr/bin/python3"


def require_bpf():
    """Skips the test loudly when BPF cannot be used here; under
    WEFT_REQUIRE_BPF=1 (CI) that is a failure instead."""
    reason = None
    if os.geteuid() != 0:
        reason = "not running as root (privileged tests need CAP_BPF and CAP_PERFMON)"
    elif not os.path.exists("/sys/kernel/btf/vmlinux"):
        reason = "kernel has no BTF at /sys/kernel/btf/vmlinux"
    elif not os.path.exists(WEFT):
        reason = "weft binary not found at %s (build first)" % WEFT
    if reason is None:
        return
    if os.environ.get("WEFT_REQUIRE_BPF") == "1":
        print("FAIL: privileged test cannot run: %s (WEFT_REQUIRE_BPF=1 forbids skipping)" % reason)
        sys.exit(1)
    print("SKIP: %s" % reason)
    sys.exit(SKIP)


def free_port(family=socket.AF_INET):
    with socket.socket(family, socket.SOCK_STREAM) as s:
        s.bind(("::1" if family == socket.AF_INET6 else "127.0.0.1", 0))
        return s.getsockname()[1]


def wait_for_port(port, host="127.0.0.1", timeout=10.0):
    deadline = time.time() + timeout
    while time.time() < deadline:
        try:
            with socket.create_connection((host, port), timeout=0.5):
                return
        except OSError:
            time.sleep(0.05)
    raise TimeoutError("nothing listens on %s:%d after %.0fs" % (host, port, timeout))


class Weft:
    """A running `weft run`. stdout goes to a file (events or console
    output); stderr is collected and watched for the ready line."""

    def __init__(self, args, env=None, tmpdir="/tmp"):
        self.args = [WEFT] + list(args)
        self.stdout_path = os.path.join(tmpdir, "weft-%d-%d.out" % (os.getpid(), id(self)))
        self._stdout = open(self.stdout_path, "wb")
        full_env = dict(os.environ)
        full_env.update(env or {})
        self.proc = subprocess.Popen(self.args, stdout=self._stdout, stderr=subprocess.PIPE,
                                     env=full_env)
        self.stderr_lines = []
        self._ready = threading.Event()
        self._reader = threading.Thread(target=self._read_stderr, daemon=True)
        self._reader.start()

    def _read_stderr(self):
        for raw in self.proc.stderr:
            line = raw.decode("utf-8", "replace").rstrip("\n")
            self.stderr_lines.append(line)
            sys.stderr.write("[weft] %s\n" % line)
            if line.startswith("weft ready"):
                self._ready.set()

    def wait_ready(self, timeout=30.0):
        deadline = time.time() + timeout
        while time.time() < deadline:
            if self._ready.wait(0.1):
                return
            if self.proc.poll() is not None:
                self._reader.join(2)
                raise RuntimeError("weft exited with %d before it was ready:\n%s" %
                                   (self.proc.returncode, "\n".join(self.stderr_lines)))
        raise TimeoutError("weft was not ready after %.0fs" % timeout)

    def stop(self, timeout=5.0):
        """SIGTERM (a background process of a non-interactive shell ignores
        SIGINT); returns (exit code, seconds it took)."""
        started = time.time()
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
        try:
            code = self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            code = self.proc.wait()
            raise AssertionError("weft did not exit within %.0fs of SIGTERM" % timeout)
        self._reader.join(2)
        self._stdout.close()
        return code, time.time() - started

    def stdout_text(self):
        if not self._stdout.closed:
            self._stdout.flush()
        with open(self.stdout_path, "rb") as f:
            return f.read().decode("utf-8", "replace")

    def events(self):
        out = []
        for line in self.stdout_text().splitlines():
            if line.strip():
                out.append(json.loads(line))
        return out

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        if self.proc.poll() is None:
            try:
                self.stop()
            except AssertionError:
                pass
        try:
            os.unlink(self.stdout_path)
        except OSError:
            pass


def data_bytes(event):
    """Captured bytes of a data event (JSON strings hold one char per byte)."""
    return event["data"].encode("latin-1")


class Failures:
    """Collects failed checks so one run reports all of them."""

    def __init__(self):
        self.items = []
        self.passed = 0

    def check(self, condition, what):
        if condition:
            self.passed += 1
            print("ok    %s" % what)
        else:
            self.items.append(what)
            print("FAIL  %s" % what)
        return condition

    def finish(self):
        print("%d passed, %d failed" % (self.passed, len(self.items)))
        sys.exit(1 if self.items else 0)
