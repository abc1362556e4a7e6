"""Two network namespaces joined by a veth pair, standing for two nodes.
Names carry the test's pid so parallel runs do not collide; removing the
namespaces removes the veth pair."""
import os
import subprocess


def _ip(*args):
    subprocess.run(["ip"] + list(args), check=True, capture_output=True)


class TwoNodes:
    def __init__(self):
        pid = os.getpid()
        self.a, self.b = "weftpA%d" % pid, "weftpB%d" % pid
        subnet = "10.%d.%d" % (200 + pid % 50, (pid // 50) % 250)
        self.addr_a, self.addr_b = subnet + ".1", subnet + ".2"
        self._veth = ("wpa%d" % (pid % 100000), "wpb%d" % (pid % 100000))

    def __enter__(self):
        va, vb = self._veth
        try:
            _ip("netns", "add", self.a)
            _ip("netns", "add", self.b)
            _ip("link", "add", va, "type", "veth", "peer", "name", vb)
            for ns, dev, addr in ((self.a, va, self.addr_a), (self.b, vb, self.addr_b)):
                _ip("link", "set", dev, "netns", ns)
                _ip("-n", ns, "addr", "add", addr + "/24", "dev", dev)
                _ip("-n", ns, "link", "set", dev, "up")
                _ip("-n", ns, "link", "set", "lo", "up")
        except Exception:
            self.__exit__()
            raise
        return self

    def __exit__(self, *exc):
        for ns in (self.a, self.b):
            subprocess.run(["ip", "netns", "del", ns], capture_output=True)
        return False

    @staticmethod
    def command(ns, args):
        """`args` run inside node `ns`: the same process (ip netns exec execs)."""
        return ["ip", "netns", "exec", ns] + list(args)
