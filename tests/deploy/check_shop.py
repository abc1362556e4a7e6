#!/usr/bin/python3
"""Runs examples/shop/run.sh on free ports and checks the shop works end to end:
store-fe -> catalog -> stock (x3) and store-fe -> auth, `name pid` lines on
stdout, and SIGTERM stopping every service. No root, no weft: this is the
workload the demo and the end-to-end tests trace.
"""
import json
import os
import re
import signal
import socket
import subprocess
import time
import unittest
import urllib.request
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
SHOP = REPO / "examples/shop"
SERVICES = ["store-fe", "catalog", "stock", "auth"]
WAIT_SECONDS = 30  # a deadline for start-up on a loaded machine, not a measurement


def free_ports(count):
    sockets = [socket.socket() for _ in range(count)]
    try:
        for s in sockets:
            s.bind(("127.0.0.1", 0))
        return [s.getsockname()[1] for s in sockets]
    finally:
        for s in sockets:
            s.close()


def process_exists(pid):
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    # A zombie still answers kill(0); it has exited all the same.
    stat = Path(f"/proc/{pid}/stat")
    return stat.exists() and stat.read_text().rsplit(")", 1)[1].split()[0] != "Z"


def wait_until(predicate):
    deadline = time.monotonic() + WAIT_SECONDS
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.1)
    return False


class ShopTest(unittest.TestCase):
    def test_sources_carry_no_tracing_code(self):
        for name in SERVICES:
            source = (SHOP / f"{name}.py").read_text(encoding="utf-8")
            self.assertNotIn("opentelemetry", source, name)
            self.assertNotIn("OTEL_", source, name)
            self.assertIn("threaded=True", source, name)

    def test_run_sh_serves_the_shop_and_stops_on_sigterm(self):
        ports = dict(zip(SERVICES, free_ports(len(SERVICES))))
        env = dict(os.environ,
                   STORE_FE_PORT=str(ports["store-fe"]), CATALOG_PORT=str(ports["catalog"]),
                   STOCK_PORT=str(ports["stock"]), AUTH_PORT=str(ports["auth"]))
        for inherited in ["CATALOG_URL", "STOCK_URL", "AUTH_URL", "SHOP_HOST"]:
            env.pop(inherited, None)
        shop = subprocess.Popen([str(SHOP / "run.sh")], env=env, stdout=subprocess.PIPE,
                                stderr=subprocess.PIPE, text=True)
        pids = {}
        try:
            for _ in SERVICES:
                line = shop.stdout.readline()
                match = re.fullmatch(r"(\S+) (\d+)\n", line)
                self.assertIsNotNone(match, f"bad line from run.sh: {line!r}")
                pids[match.group(1)] = int(match.group(2))
            self.assertEqual(sorted(pids), sorted(SERVICES))
            # Each pid is the python process running that service's script,
            # which is what weft names the service after.
            for name, pid in pids.items():
                cmdline = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")
                self.assertEqual(Path(cmdline[1].decode()).name, f"{name}.py")

            url = f"http://127.0.0.1:{ports['store-fe']}/"

            def answers():
                try:
                    with urllib.request.urlopen(url, timeout=5) as reply:
                        self.page = json.load(reply)
                        return reply.status == 200
                except OSError:
                    return False

            self.assertTrue(wait_until(answers), "store-fe never answered")
            self.assertEqual(self.page["user"], "guest")
            self.assertEqual([p["id"] for p in self.page["products"]], [1, 2, 3])
            self.assertEqual([p["in_stock"] for p in self.page["products"]], [12, 0, 5])
        finally:
            shop.send_signal(signal.SIGTERM)
            try:
                status = shop.wait(timeout=WAIT_SECONDS)
            except subprocess.TimeoutExpired:
                shop.kill()
                for pid in pids.values():
                    if process_exists(pid):
                        os.kill(pid, signal.SIGKILL)
                raise
        errors = shop.stderr.read()
        shop.stdout.close()
        shop.stderr.close()
        self.assertEqual(status, 0, errors)
        for name, pid in pids.items():
            self.assertTrue(wait_until(lambda: not process_exists(pid)), f"{name} still runs")


if __name__ == "__main__":
    unittest.main(verbosity=2)
