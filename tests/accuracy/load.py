"""The load of the accuracy harness: a seeded plan of front requests and an
untraced driver that sends them from many concurrent keep-alive clients.

A front request is GET /r/<rid>/1?sleep=MS&fan=K&leaf=MS&par=0|1: the front
service sleeps MS, then calls its downstream K times (1-3) with
/r/<rid>-<j>/0?sleep=leaf, one after another or (par=1, where the runtime
has a natural way to) concurrently. About a third of front handlers and two
thirds of leaves sleep 0-20 ms, so requests of different clients overlap on
every thread, event loop and goroutine of the services.
"""
import http.client
import random
import threading
from dataclasses import dataclass


@dataclass(frozen=True)
class FrontRequest:
    rid: str
    fan: int
    sleep_ms: int
    leaf_ms: int
    parallel: bool

    @property
    def path(self):
        return "/r/%s/1" % self.rid

    @property
    def target(self):
        return "%s?sleep=%d&fan=%d&leaf=%d&par=%d" % (self.path, self.sleep_ms, self.fan,
                                                      self.leaf_ms, 1 if self.parallel else 0)

    def child_paths(self):
        return ["/r/%s-%d/0" % (self.rid, j) for j in range(1, self.fan + 1)]


def plan(count, seed=7, prefix="q"):
    """`count` front requests; the same seed gives the same plan."""
    rng = random.Random(seed)
    out = []
    for i in range(count):
        fan = rng.randint(1, 3)
        sleep_ms = rng.randint(0, 20) if rng.random() < 0.33 else 0
        leaf_ms = rng.randint(0, 20) if rng.random() < 0.67 else 0
        out.append(FrontRequest("%s%d" % (prefix, i), fan, sleep_ms, leaf_ms, rng.random() < 0.5))
    return out


class _Client:
    """One keep-alive connection, reopened when the server closes it."""

    def __init__(self, port, timeout):
        self.port = port
        self.timeout = timeout
        self.conn = None

    def get(self, target):
        if self.conn is None:
            self.conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=self.timeout)
        try:
            self.conn.request("GET", target)
            reply = self.conn.getresponse()
            reply.read()
            if reply.will_close:
                self.close()
            return reply.status
        except (OSError, http.client.HTTPException) as e:
            # No retry: a resent request could reach the service twice and
            # blur the ground truth. The caller counts it as failed.
            self.close()
            return "%s: %s" % (type(e).__name__, e)

    def close(self):
        if self.conn is not None:
            self.conn.close()
            self.conn = None


def drive(port, requests, clients=32, timeout=30.0):
    """Sends every front request once from `clients` threads taking the next
    request from a shared queue; returns {rid: status or error text}."""
    results = {}
    lock = threading.Lock()
    queue = list(reversed(requests))
    start = threading.Barrier(clients)

    def run():
        client = _Client(port, timeout)
        start.wait()
        try:
            while True:
                with lock:
                    if not queue:
                        return
                    request = queue.pop()
                status = client.get(request.target)
                with lock:
                    results[request.rid] = status
        finally:
            client.close()

    threads = [threading.Thread(target=run, daemon=True) for _ in range(clients)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return results
