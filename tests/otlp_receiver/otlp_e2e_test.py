"""End-to-end: weft's OTLP exporter (via weft-otlp-send) against weft-otlp-receiver.

Covers gRPC and HTTP, gzip on and off, retries with --fail-first, no retry on a
permanent error, partial_success counting, and an unreachable endpoint not
slowing the caller. Run by ctest; paths come from the environment:
WEFT_OTLP_RECEIVER and WEFT_OTLP_SEND.
"""

import json
import os
import subprocess
import sys
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from receiver import OtlpReceiver  # noqa: E402

SEND = os.environ.get("WEFT_OTLP_SEND", "weft-otlp-send")
COMPARED_FIELDS = ["trace_id", "span_id", "parent_span_id", "name", "kind", "start_unix_nano",
                   "end_unix_nano", "status_code", "status_message", "trace_state", "flags",
                   "attributes", "resource", "scope"]


def expected_spans():
    out = subprocess.run([SEND, "--print-expected"], check=True, capture_output=True, text=True)
    return [json.loads(line) for line in out.stdout.splitlines()]


def send(env_overrides, *args):
    env = {k: v for k, v in os.environ.items() if not k.startswith("OTEL_")}
    env["OTEL_BSP_SCHEDULE_DELAY"] = "50"
    env.update(env_overrides)
    out = subprocess.run([SEND, *args], env=env, capture_output=True, text=True, timeout=60)
    if out.returncode != 0:
        raise AssertionError("weft-otlp-send failed: " + out.stderr)
    return json.loads(out.stdout.strip().splitlines()[-1])


class OtlpEndToEnd(unittest.TestCase):
    maxDiff = None

    def check_spans(self, received, transport, compression=None):
        expected = {s["span_id"]: s for s in expected_spans()}
        self.assertEqual(len(received), len(expected))
        for span in received:
            self.assertEqual(span["transport"], transport)
            if compression is not None:
                self.assertEqual(span["compression"], compression)
            want = expected[span["span_id"]]
            for field in COMPARED_FIELDS:
                self.assertEqual(span[field], want[field], "%s of %s" % (field, span["name"]))

    def export_and_check(self, protocol, gzip):
        with OtlpReceiver() as rx:
            endpoint = rx.grpc_endpoint if protocol == "grpc" else rx.http_endpoint
            stats = send({"OTEL_EXPORTER_OTLP_ENDPOINT": endpoint,
                          "OTEL_EXPORTER_OTLP_PROTOCOL": protocol,
                          "OTEL_EXPORTER_OTLP_COMPRESSION": "gzip" if gzip else "none",
                          "OTEL_EXPORTER_OTLP_HEADERS": "x-weft-test=1"})
            self.assertEqual(stats["exported"], 5, stats)
            self.assertEqual(stats["failed"], 0, stats)
            received = rx.wait_for_spans(count=5, timeout=10)
            transport = "grpc" if protocol == "grpc" else "http"
            # gRPC hides the message encoding from handlers; HTTP shows Content-Encoding.
            compression = None if protocol == "grpc" else ("gzip" if gzip else "")
            self.check_spans(received, transport, compression)

    def test_grpc_plain(self):
        self.export_and_check("grpc", gzip=False)

    def test_grpc_gzip(self):
        self.export_and_check("grpc", gzip=True)

    def test_http_plain(self):
        self.export_and_check("http/protobuf", gzip=False)

    def test_http_gzip(self):
        self.export_and_check("http/protobuf", gzip=True)

    def test_grpc_gzip_really_compresses(self):
        # A server refusing gzip makes a compressing client fail: proof the flag is honoured.
        with OtlpReceiver(extra_args=["--grpc-reject-gzip"]) as rx:
            stats = send({"OTEL_EXPORTER_OTLP_ENDPOINT": rx.grpc_endpoint,
                          "OTEL_EXPORTER_OTLP_PROTOCOL": "grpc",
                          "OTEL_EXPORTER_OTLP_COMPRESSION": "gzip"})
            self.assertEqual(stats["exported"], 0, stats)
            self.assertEqual(stats["failed"], 5, stats)
            stats = send({"OTEL_EXPORTER_OTLP_ENDPOINT": rx.grpc_endpoint,
                          "OTEL_EXPORTER_OTLP_PROTOCOL": "grpc"})
            self.assertEqual(stats["exported"], 5, stats)

    def test_traces_endpoint_is_used_verbatim(self):
        with OtlpReceiver() as rx:
            stats = send({"OTEL_EXPORTER_OTLP_TRACES_ENDPOINT": rx.http_endpoint + "/v1/traces"})
            self.assertEqual(stats["exported"], 5, stats)
            stats = send({"OTEL_EXPORTER_OTLP_TRACES_ENDPOINT": rx.http_endpoint})  # no path: 404
            self.assertEqual(stats["failed"], 5, stats)
            self.assertEqual(stats["retries"], 0, stats)
            self.assertIn("404", stats["last_error"])

    def test_grpc_retries_unavailable(self):
        with OtlpReceiver(fail_first=2, fail_status=14) as rx:
            stats = send({"OTEL_EXPORTER_OTLP_ENDPOINT": rx.grpc_endpoint,
                          "OTEL_EXPORTER_OTLP_PROTOCOL": "grpc"})
            self.assertEqual(stats["retries"], 2, stats)
            self.assertEqual(stats["exported"], 5, stats)
            self.check_spans(rx.wait_for_spans(count=5), "grpc")

    def test_http_retries_503_with_retry_after(self):
        with OtlpReceiver(fail_first=1, fail_status=503, retry_after=0) as rx:
            stats = send({"OTEL_EXPORTER_OTLP_ENDPOINT": rx.http_endpoint})
            self.assertEqual(stats["retries"], 1, stats)
            self.assertEqual(stats["exported"], 5, stats)
            self.check_spans(rx.wait_for_spans(count=5), "http")

    def test_grpc_resource_exhausted_needs_retry_info(self):
        with OtlpReceiver(fail_first=1, fail_status=8) as rx:
            stats = send({"OTEL_EXPORTER_OTLP_ENDPOINT": rx.grpc_endpoint,
                          "OTEL_EXPORTER_OTLP_PROTOCOL": "grpc"})
            self.assertEqual(stats["retries"], 0, stats)
            self.assertEqual(stats["failed"], 5, stats)
        with OtlpReceiver(fail_first=1, fail_status=8, retry_after=0) as rx:
            stats = send({"OTEL_EXPORTER_OTLP_ENDPOINT": rx.grpc_endpoint,
                          "OTEL_EXPORTER_OTLP_PROTOCOL": "grpc"})
            self.assertEqual(stats["retries"], 1, stats)
            self.assertEqual(stats["exported"], 5, stats)

    def test_no_retry_on_permanent_errors(self):
        for protocol, status in (("http/protobuf", 400), ("grpc", 3)):
            with OtlpReceiver(fail_first=1, fail_status=status) as rx:
                endpoint = rx.grpc_endpoint if protocol == "grpc" else rx.http_endpoint
                stats = send({"OTEL_EXPORTER_OTLP_ENDPOINT": endpoint,
                              "OTEL_EXPORTER_OTLP_PROTOCOL": protocol})
                self.assertEqual(stats["retries"], 0, stats)
                self.assertEqual(stats["failed"], 5, stats)
                self.assertEqual(rx.spans(), [])

    def test_partial_success_counts_rejected(self):
        for protocol in ("grpc", "http/protobuf"):
            with OtlpReceiver(partial_reject=2) as rx:
                endpoint = rx.grpc_endpoint if protocol == "grpc" else rx.http_endpoint
                stats = send({"OTEL_EXPORTER_OTLP_ENDPOINT": endpoint,
                              "OTEL_EXPORTER_OTLP_PROTOCOL": protocol})
                self.assertEqual(stats["rejected"], 2, stats)
                self.assertEqual(stats["exported"], 3, stats)

    def test_unreachable_endpoint_does_not_block_export(self):
        # Port 1 refuses connections; Export() must return at once regardless.
        stats = send({"OTEL_EXPORTER_OTLP_ENDPOINT": "http://127.0.0.1:1",
                      "OTEL_BSP_EXPORT_TIMEOUT": "1500"},
                     "--repeat", "100", "--shutdown-timeout-ms", "3000")
        self.assertEqual(stats["exported"], 0, stats)
        self.assertEqual(stats["failed"] + stats["dropped"], 500, stats)
        self.assertIn("127.0.0.1:1", stats["last_error"])

    def test_bad_environment_is_reported(self):
        env = {k: v for k, v in os.environ.items() if not k.startswith("OTEL_")}
        env["OTEL_EXPORTER_OTLP_PROTOCOL"] = "carrier-pigeon"
        out = subprocess.run([SEND], env=env, capture_output=True, text=True)
        self.assertEqual(out.returncode, 2)
        self.assertIn("OTEL_EXPORTER_OTLP_PROTOCOL", out.stderr)


if __name__ == "__main__":
    unittest.main(verbosity=2)
