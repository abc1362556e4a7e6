"""Scenario 3: threaded Python services calling each other (examples/shop:
store-fe -> catalog -> stock x3, store-fe -> auth), saturated by wrk on the
front end; throughput ratio traced/untraced in alternating rounds. Each front
request makes 6 HTTP exchanges in all; weft traces all four services."""
import json
import os
import signal
import subprocess
import tempfile

import harness

RUN_SH = os.path.join(harness.ROOT, "examples", "shop", "run.sh")


class Shop:
    def __init__(self):
        self.ports = {name: harness.free_port() for name in ("store-fe", "catalog", "stock", "auth")}
        env = dict(os.environ,
                   STORE_FE_PORT=str(self.ports["store-fe"]), CATALOG_PORT=str(self.ports["catalog"]),
                   STOCK_PORT=str(self.ports["stock"]), AUTH_PORT=str(self.ports["auth"]),
                   SHOP_LOG_DIR=tempfile.mkdtemp(prefix="weft-bench-shop."))
        self.proc = subprocess.Popen(["bash", RUN_SH], stdout=subprocess.PIPE,
                                     stderr=subprocess.DEVNULL, text=True, env=env)
        self.pids = {}
        for _ in range(4):
            name, pid = self.proc.stdout.readline().split()
            self.pids[name] = int(pid)
        for port in self.ports.values():
            harness.wait_for_port(port)
        self.url = "http://127.0.0.1:%d/" % self.ports["store-fe"]

    def close(self):
        self.proc.send_signal(signal.SIGTERM)
        self.proc.wait(20)


def run(rounds, seconds, connections=8):
    shop = Shop()
    samples = {"untraced": [], "traced": []}
    agent = []
    try:
        harness.run_wrk(shop.url, 1, connections)  # warm up imports and connection pools
        for order in harness.ab_orders(rounds):
            for config in order:
                if config == "untraced":
                    samples[config].append(harness.run_wrk(shop.url, seconds, connections))
                    continue
                weft = harness.Weft(shop.pids.values())
                try:
                    before = weft.snapshot()
                    result = harness.run_wrk(shop.url, seconds, connections)
                    after = weft.snapshot()
                finally:
                    counters = weft.stop()
                samples[config].append(result)
                cost = harness.delta(before, after, result["requests"])
                cost.update(counters)
                agent.append(cost)
    finally:
        shop.close()
    rps = {c: harness.median([s["rps"] for s in v]) for c, v in samples.items()}
    return {"rps": rps, "ratio": harness.paired_ratio(samples, "rps"),
            "ratio_of_medians": rps["traced"] / rps["untraced"], "samples": samples,
            "agent": agent}


if __name__ == "__main__":
    print(json.dumps(run(2, 3), indent=2))
