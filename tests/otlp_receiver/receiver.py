"""Drive weft-otlp-receiver from Python tests (stdlib only, /usr/bin/python3).

    with OtlpReceiver() as rx:
        env = {"OTEL_EXPORTER_OTLP_ENDPOINT": rx.http_endpoint}
        ...
        spans = rx.wait_for_spans(count=5, timeout=10)

The binary comes from $WEFT_OTLP_RECEIVER, else from a build directory of the
repository (build/, then the most recently built build-*/).
"""

import glob
import json
import os
import select
import signal
import subprocess
import tempfile
import time

_REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
_RELATIVE_BINARY = os.path.join("tests", "otlp_receiver", "weft-otlp-receiver")


def find_receiver_binary():
    explicit = os.environ.get("WEFT_OTLP_RECEIVER")
    if explicit:
        return explicit
    default = os.path.join(_REPO, "build", _RELATIVE_BINARY)
    if os.path.exists(default):
        return default
    found = glob.glob(os.path.join(_REPO, "build*", _RELATIVE_BINARY))
    if not found:
        raise FileNotFoundError(
            "weft-otlp-receiver not found: build it (cmake --build <dir> --target "
            "weft-otlp-receiver) or set WEFT_OTLP_RECEIVER")
    return max(found, key=os.path.getmtime)


class OtlpReceiver:
    """A running weft-otlp-receiver; spans are read from its JSON-lines file."""

    def __init__(self, binary=None, out_path=None, fail_first=0, fail_status=None,
                 retry_after=None, partial_reject=0, extra_args=(), start_timeout=10.0):
        self.binary = binary or find_receiver_binary()
        self._tmpdir = None
        if out_path is None:
            self._tmpdir = tempfile.TemporaryDirectory(prefix="weft-otlp-rx-")
            out_path = os.path.join(self._tmpdir.name, "spans.jsonl")
        self.out_path = out_path
        self.args = [self.binary, "--grpc-port", "0", "--http-port", "0", "--out", out_path]
        if fail_first:
            self.args += ["--fail-first", str(fail_first)]
        if fail_status is not None:
            self.args += ["--fail-status", str(fail_status)]
        if retry_after is not None:
            self.args += ["--retry-after", str(retry_after)]
        if partial_reject:
            self.args += ["--partial-reject", str(partial_reject)]
        self.args += list(extra_args)
        self.start_timeout = start_timeout
        self.process = None
        self.grpc_port = None
        self.http_port = None

    def start(self):
        self.process = subprocess.Popen(self.args, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        deadline = time.monotonic() + self.start_timeout
        line = b""
        while not line.endswith(b"\n"):
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                self.stop(check=False)
                raise TimeoutError("weft-otlp-receiver did not print its listening line")
            ready, _, _ = select.select([self.process.stdout], [], [], remaining)
            if ready:
                chunk = os.read(self.process.stdout.fileno(), 1)
                if not chunk:
                    err = self.process.stderr.read().decode(errors="replace")
                    raise RuntimeError("weft-otlp-receiver exited: " + err)
                line += chunk
        parts = dict(p.split("=", 1) for p in line.decode().split()[1:])
        if not line.startswith(b"listening "):
            raise RuntimeError("unexpected first line: %r" % line)
        self.grpc_port = int(parts["grpc"])
        self.http_port = int(parts["http"])
        return self

    @property
    def grpc_endpoint(self):
        return "http://127.0.0.1:%d" % self.grpc_port

    @property
    def http_endpoint(self):
        return "http://127.0.0.1:%d" % self.http_port

    def spans(self):
        """Every span received so far (complete lines only)."""
        if not os.path.exists(self.out_path):
            return []
        with open(self.out_path, "r", encoding="utf-8") as f:
            data = f.read()
        return [json.loads(line) for line in data.split("\n")[:-1] if line.strip()]

    def wait_for_spans(self, count=None, predicate=None, timeout=10.0):
        """Waits until `count` spans (matching `predicate`, if given) arrived.

        With only a predicate, waits for at least one match. Returns the
        matching spans; raises TimeoutError with what arrived otherwise."""
        if count is None:
            count = 1
        deadline = time.monotonic() + timeout
        while True:
            matching = [s for s in self.spans() if predicate is None or predicate(s)]
            if len(matching) >= count:
                return matching
            if time.monotonic() >= deadline:
                raise TimeoutError("wanted %d spans, got %d: %r" % (count, len(matching), matching))
            time.sleep(0.05)

    def stop(self, check=True):
        """SIGTERM; with check, asserts a clean exit 0. Returns the exit code."""
        if self.process is None:
            return None
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
        try:
            code = self.process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.process.kill()
            code = self.process.wait()
        self.process.stdout.close()
        self.process.stderr.close()
        self.process = None
        if check and code != 0:
            raise RuntimeError("weft-otlp-receiver exited with %d" % code)
        return code

    def __enter__(self):
        return self.start()

    def __exit__(self, exc_type, exc, tb):
        self.stop(check=exc_type is None)
        if self._tmpdir is not None:
            self._tmpdir.cleanup()
        return False
