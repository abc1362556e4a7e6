"""weft's Node.js hook (agent/nodejs/weft_node_agent.js) in a real Node.js
program, no root: tests/unit/nodejs/hook_harness.js plays the kernel's part
and reports, for every call a front server made to a back server through a
small keep-alive pool (so requests share sockets), which request the
kernel would have made its parent. Every link must be right, nearly all
calls linked, and uninstall must put the program back as it was.
"""
import json
import os
import shutil
import subprocess
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(os.path.dirname(os.path.dirname(HERE)))
HOOK = os.path.join(REPO, "agent", "nodejs", "weft_node_agent.js")
REQUESTS = 200


def main():
    node = shutil.which("node") or "/usr/bin/node"
    if not os.path.exists(node):
        print("SKIP: no Node.js on this machine (the hook only runs in Node.js programs)")
        sys.exit(77)
    done = subprocess.run([node, os.path.join(HERE, "hook_harness.js"), HOOK, str(REQUESTS)],
                          capture_output=True, text=True, timeout=50)
    if done.returncode != 0:
        print("FAIL: the harness exited %d:\n%s%s" % (done.returncode, done.stdout, done.stderr))
        sys.exit(1)
    report = json.loads(done.stdout.strip().splitlines()[-1])
    print(json.dumps(report, indent=1))
    failures = []

    def check(condition, what):
        print("%s  %s" % ("ok  " if condition else "FAIL", what))
        if not condition:
            failures.append(what)

    check(report["first"] == "installed" and report["second"] == "already",
          "installs once, then says it is already there (%s, %s)" %
          (report["first"], report["second"]))
    check(report["calls"] == 3 * REQUESTS, "every call seen (%d of %d)" %
          (report["calls"], 3 * REQUESTS))
    check(not report["wrong"], "no call linked to another request (%s)" % report["wrong"])
    check(report["linked"] == report["calls"], "every call linked (%d of %d)" %
          (report["linked"], report["calls"]))
    # Each front request files itself once, at its first call; the back's
    # requests make no call and say nothing.
    check(report["filed"] == REQUESTS, "one request filed per front request (%d of %d)" %
          (report["filed"], REQUESTS))
    check(report["messages"] <= 3 * REQUESTS,
          "at most one message per call (%d for %d calls)" % (report["messages"], 3 * REQUESTS))
    check(report["uninstall"] == "uninstalled" and report["restored"],
          "uninstall puts net.Socket's write and connect back")
    check(report["messagesAfterUninstall"] == 0,
          "no messages after uninstall (%d)" % report["messagesAfterUninstall"])
    check(report["reinstall"] == "installed", "installs again after uninstall")
    check(report["survivesFailures"], "requests still succeed when every message fails")
    sys.exit(1 if failures else 0)


if __name__ == "__main__":
    main()
