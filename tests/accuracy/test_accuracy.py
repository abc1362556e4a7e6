"""Issue 7: weft's parent links under concurrent load, for one runtime.

    test_accuracy.py RUNTIME [REQUESTS [CLIENTS]]

Asserts the goals only where weft claims them today:
  - precision >= 99.9% of the links emitted, for every runtime, in total and
    for each link source (a wrong link is worse than a missing one);
  - recall at issue 7's goal: 100% for python-threaded (thread-per-request),
    >= 95% for nginx (proxy-turn links), thread pools (handoff links) and Go
    (goroutine links), >= 90% for python-asyncio (async-task links) and
    Node.js (node-async links, with WEFT_NODE_LINKS=inspector);
  - every front request answered 200 (else the ground truth is not sound).
"""
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import accuracy  # noqa: E402
import runtimes  # noqa: E402
import scoring  # noqa: E402
import weftlib  # noqa: E402

PRECISION_GOAL = 0.999
# Issue 7's recall goals; asserted for the runtimes in RECALL_ASSERTED.
RECALL_GOALS = {"python-threaded": 1.0, "go": 0.95, "go-stripped": 0.95, "nginx": 0.95,
                "thread-pool": 0.95, "node": 0.90, "python-asyncio": 0.90}
RECALL_ASSERTED = ("python-threaded", "python-asyncio", "nginx", "thread-pool", "go", "go-stripped",
                   "node")


def main():
    if len(sys.argv) < 2 or sys.argv[1] not in runtimes.KNOWN:
        print("usage: test_accuracy.py {%s} [REQUESTS [CLIENTS]]" % "|".join(runtimes.KNOWN))
        sys.exit(2)
    runtime = sys.argv[1]
    requests = int(sys.argv[2]) if len(sys.argv) > 2 else 300
    clients = int(sys.argv[3]) if len(sys.argv) > 3 else 32
    weftlib.require_bpf()
    f = weftlib.Failures()
    try:
        m = accuracy.measure(runtime, requests, clients)
    except runtimes.Unavailable as e:
        if os.environ.get("WEFT_REQUIRE_BPF") == "1":
            print("FAIL: %s cannot run: %s (WEFT_REQUIRE_BPF=1 forbids skipping)" % (runtime, e))
            sys.exit(1)
        print("SKIP: %s: %s" % (runtime, e))
        sys.exit(weftlib.SKIP)
    accuracy.report(m)
    print("\n".join(scoring.TABLE_HEADER + scoring.table_rows(runtime, m.score)))

    total = m.score.total
    f.check(not m.failed, "%s: all %d front requests answered 200 (%d failed)" %
            (runtime, requests, len(m.failed)))
    f.check(m.weft_exit == 0, "weft exits 0 on SIGTERM (%s)" % m.weft_exit)
    f.check(total.emitted > 0, "%s: weft emitted parent links (%d)" % (runtime, total.emitted))
    precision = total.precision or 0.0
    f.check(precision >= PRECISION_GOAL,
            "%s: precision %.3f%% >= %.1f%% (%d of %d emitted links correct)" %
            (runtime, 100 * precision, 100 * PRECISION_GOAL, total.correct, total.emitted))
    # Per link source too: always-right peer-socket links must not hide
    # wrong thread links in the total.
    for source, row in sorted(m.score.by_source.items()):
        if row.emitted:
            f.check(row.precision >= PRECISION_GOAL,
                    "%s: %s links precision %.3f%% >= %.1f%% (%d of %d correct)" %
                    (runtime, source, 100 * row.precision, 100 * PRECISION_GOAL, row.correct,
                     row.emitted))
    recall = total.recall or 0.0
    goal = RECALL_GOALS[runtime]
    if runtime in RECALL_ASSERTED:
        f.check(total.true > 0 and recall >= goal,
                "%s: recall %.2f%% >= %.0f%% (%d of %d true links)" %
                (runtime, 100 * recall, 100 * goal, total.correct, total.true))
    else:
        print("info  %s: recall %.2f%% (%d of %d true links), goal %.0f%% not asserted today" %
              (runtime, 100 * recall, total.correct, total.true, 100 * goal))
    f.finish()


if __name__ == "__main__":
    main()
