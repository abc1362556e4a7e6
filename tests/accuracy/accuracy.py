"""One measurement of weft's parent links for one runtime: start the
runtime's services, trace them with a real `weft run`, send the planned load
from an untraced driver, collect the spans at the OTLP test receiver, score
them against the ground truth in the URL paths.

Runs under Debian's /usr/bin/python3 as root (BPF), like tests/e2e.
"""
import json
import os
import sys
import time
from dataclasses import dataclass, field

_HERE = os.path.dirname(os.path.abspath(__file__))
_REPO = os.path.dirname(os.path.dirname(_HERE))
sys.path.insert(0, _HERE)
sys.path.insert(0, os.path.join(_REPO, "tests", "e2e"))

import e2elib  # noqa: E402
import load  # noqa: E402
import runtimes  # noqa: E402
import scoring  # noqa: E402

# After the load, spans still in weft's batches arrive within a few batch
# delays; stop waiting once nothing new came for this long.
QUIET_SECONDS = 3.0
QUEUE_SIZE = 262144


@dataclass
class Measurement:
    runtime: str
    requests: int
    clients: int
    failed: dict = field(default_factory=dict)  # rid -> status or error
    spans: list = field(default_factory=list)
    expected: list = field(default_factory=list)
    score: scoring.Score = None
    load_seconds: float = 0.0
    weft_exit: int = None
    weft_warnings: list = field(default_factory=list)


def _wait_for_spans(rx, want, timeout):
    """Until `want` spans arrived, or none arrived for QUIET_SECONDS."""
    deadline = time.monotonic() + timeout
    last_count, last_change = -1, time.monotonic()
    while time.monotonic() < deadline:
        count = len(rx.spans())
        if count >= want:
            return
        if count != last_count:
            last_count, last_change = count, time.monotonic()
        elif time.monotonic() - last_change > QUIET_SECONDS:
            return
        time.sleep(0.2)


def measure(runtime, requests=300, clients=32, seed=7, log=print):
    """Runs one runtime under load and scores it; raises runtimes.Unavailable
    when its toolchain is missing."""
    front_requests = load.plan(requests, seed=seed)
    m = Measurement(runtime, requests, clients)
    rx = e2elib.start_receiver()
    try:
        with e2elib.Processes() as procs:
            os.chmod(procs.tmpdir.name, 0o755)  # nginx workers run as nobody
            deployment = runtimes.deploy(runtime, procs)
            m.expected = scoring.expected_spans(front_requests, deployment.tiers)
            weft = e2elib.start_weft(deployment.pids, env={
                "OTEL_EXPORTER_OTLP_ENDPOINT": rx.grpc_endpoint,
                "OTEL_EXPORTER_OTLP_PROTOCOL": "grpc",
                # Node.js calls are linked through the hook weft installs
                # with the inspector (opt-in); other runtimes ignore it.
                "WEFT_NODE_LINKS": "inspector",
                # The links are measured, not the exporter: Go serves this
                # load at ~7,000 spans/s, over what the default queue (2048)
                # holds between 200 ms batches.
                "OTEL_BSP_MAX_QUEUE_SIZE": str(QUEUE_SIZE)})
            with weft:
                weft.wait_ready()
                log("%s: %d front requests from %d clients to :%d (%s)" % (
                    runtime, requests, clients, deployment.tiers[0].port,
                    " -> ".join("%s:%d" % (t.name, t.port) for t in deployment.tiers)))
                started = time.monotonic()
                statuses = load.drive(deployment.tiers[0].port, front_requests, clients)
                m.load_seconds = time.monotonic() - started
                m.failed = {rid: s for rid, s in statuses.items() if s != 200}
                _wait_for_spans(rx, len(m.expected), timeout=30 + requests / 50)
                m.weft_exit, _ = weft.stop(timeout=15)
                # Its exit summary (events lost, spans dropped) and warnings.
                m.weft_warnings = [line for line in weft.stderr_lines
                                   if "capture:" in line or "export:" in line or
                                   "warn" in line.lower()]
        m.spans = rx.spans()
        keep = os.environ.get("ACCURACY_SPANS_DIR")
        if keep:  # for looking at the raw spans after a run
            os.makedirs(keep, exist_ok=True)
            with open(os.path.join(keep, runtime + ".jsonl"), "w") as out:
                out.writelines(json.dumps(s) + "\n" for s in m.spans)
    finally:
        rx.stop(check=False)
    if m.failed:
        # A failed front request's spans are partial in unknown ways: its
        # spans leave the truth, and any span left of it counts as unexpected.
        failed_prefixes = tuple("/r/%s/" % rid for rid in m.failed) + tuple(
            "/r/%s-" % rid for rid in m.failed)
        m.expected = [e for e in m.expected if not e.key[2].startswith(failed_prefixes)]
    m.score = scoring.score(m.spans, m.expected)
    return m


def report(m, log=print):
    """Prints what a reader needs to judge one measurement."""
    total = m.score.total
    log("%s: %d front requests in %.1f s (%d failed), %d spans exported, %d expected" % (
        m.runtime, m.requests, m.load_seconds, len(m.failed), len(m.spans), len(m.expected)))
    if m.failed:
        log("  failed front requests (first 5): %s" % list(m.failed.items())[:5])
    for line in scoring.relation_lines(m.score):
        log(line)
    log("  all links: emitted %d, correct %d, true %d" % (total.emitted, total.correct,
                                                          total.true))
    for example in m.score.wrong_examples:
        log("  wrong: %s" % example)
    for line in m.weft_warnings[:5]:
        log("  weft: %s" % line)
