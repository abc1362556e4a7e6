"""The accuracy harness's scorer on hand-made spans (no root, no weft): the
ground truth it derives from paths, and how it counts right, wrong, missing
and unjudgeable links. Unit tier (no label)."""
import os
import sys
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import load  # noqa: E402
import scoring  # noqa: E402
from scoring import Tier  # noqa: E402

FRONT, BACK = Tier("front", 1000, parallel=True), Tier("back", 2000)
PROXY = Tier("nginx", 3000, proxy=True)
_ids = iter(range(1, 1 << 30))


def span(kind, port, path, parent=None, source="none", trace="t1", start=0, end=100):
    attributes = {"server.port": port, "weft.link.source": source}
    if kind == "SERVER":
        attributes["url.path"] = path
    else:
        attributes["url.full"] = "http://127.0.0.1:%d%s?sleep=REDACTED" % (port, path)
    return {"kind": kind, "span_id": "%016x" % next(_ids), "trace_id": trace,
            "parent_span_id": parent["span_id"] if parent else "", "attributes": attributes,
            "start_unix_nano": start, "end_unix_nano": end}


def trace_of(request, tiers=(FRONT, BACK)):
    """A perfectly linked export of one front request."""
    root = span("SERVER", tiers[0].port, request.path)
    out = [root]
    paths = [request.path] if tiers[0].proxy else request.child_paths()
    for path in paths:
        client = span("CLIENT", tiers[1].port, path, root, "thread")
        out += [client, span("SERVER", tiers[1].port, path, client, "peer-socket")]
    return out


class ExpectedSpansTest(unittest.TestCase):
    def test_fan_out_truth_follows_the_paths(self):
        request = load.FrontRequest("q7", 2, 0, 5, True)
        expected = {e.key: e for e in scoring.expected_spans([request], [FRONT, BACK])}
        self.assertEqual(len(expected), 5)
        root = expected[("SERVER", 1000, "/r/q7/1")]
        self.assertIsNone(root.parent)
        client = expected[("CLIENT", 2000, "/r/q7-2/0")]
        self.assertEqual(client.parent, ("SERVER", 1000, "/r/q7/1"))
        self.assertEqual(client.detail, "in-process, parallel fan-out")
        self.assertEqual(expected[("SERVER", 2000, "/r/q7-2/0")].parent, client.key)

    def test_proxy_forwards_the_same_path(self):
        request = load.FrontRequest("q3", 3, 0, 0, False)
        expected = {e.key: e for e in scoring.expected_spans([request], [PROXY, BACK])}
        self.assertEqual(len(expected), 3)  # the proxy sends one request, whatever fan says
        self.assertEqual(expected[("CLIENT", 2000, "/r/q3/1")].parent, ("SERVER", 3000, "/r/q3/1"))
        self.assertEqual(expected[("CLIENT", 2000, "/r/q3/1")].detail, "in-process, proxied")

    def test_plan_is_seeded_and_unique(self):
        self.assertEqual(load.plan(50, seed=3), load.plan(50, seed=3))
        rids = [r.rid for r in load.plan(500)]
        self.assertEqual(len(set(rids)), 500)
        self.assertTrue(all(1 <= r.fan <= 3 for r in load.plan(500)))


class ScoreTest(unittest.TestCase):
    def setUp(self):
        self.requests = [load.FrontRequest("q%d" % i, 1 + i % 3, 0, 0, False) for i in range(4)]
        self.expected = scoring.expected_spans(self.requests, [FRONT, BACK])
        self.true_links = sum(2 * r.fan for r in self.requests)

    def test_perfect_export(self):
        spans = [s for r in self.requests for s in trace_of(r)]
        result = scoring.score(spans, self.expected)
        total = result.total
        self.assertEqual((total.emitted, total.correct, total.true),
                         (self.true_links, self.true_links, self.true_links))
        self.assertEqual(result.by_source["thread"].true, self.true_links // 2)
        self.assertEqual(result.by_source["peer-socket"].correct, self.true_links // 2)
        self.assertEqual(result.by_source["none"].spans, 4)

    def test_wrong_parent_is_counted_and_classified(self):
        a, b = trace_of(self.requests[0]), trace_of(self.requests[1])
        a[1]["parent_span_id"] = b[0]["span_id"]  # a's CLIENT under b's still open SERVER
        a[1]["start_unix_nano"] = 50
        result = scoring.score(a + b, scoring.expected_spans(self.requests[:2], [FRONT, BACK]))
        self.assertEqual(result.by_source["thread"].emitted - result.by_source["thread"].correct, 1)
        self.assertEqual(result.wrong_parent_open, 1)
        self.assertLess(result.total.precision, 1.0)
        self.assertEqual(len(result.wrong_examples), 1)

    def test_wrong_trace_id_is_wrong(self):
        a = trace_of(self.requests[0])
        a[2]["trace_id"] = "other"
        result = scoring.score(a, scoring.expected_spans(self.requests[:1], [FRONT, BACK]))
        self.assertEqual(result.by_source["peer-socket"].correct, 0)
        self.assertEqual(result.by_source["peer-socket"].emitted, 1)

    def test_missing_span_misses_its_link(self):
        a = trace_of(self.requests[0])  # fan 1: root, client, back
        result = scoring.score([a[0], a[1]], scoring.expected_spans(self.requests[:1],
                                                                    [FRONT, BACK]))
        self.assertEqual(result.missing_spans, 1)
        self.assertEqual((result.total.correct, result.total.true), (1, 2))

    def test_link_to_unexported_true_parent_is_left_out(self):
        a = trace_of(self.requests[0])
        result = scoring.score([a[0], a[2]], scoring.expected_spans(self.requests[:1],
                                                                    [FRONT, BACK]))
        self.assertEqual(result.unverifiable_links, 1)
        self.assertEqual((result.total.emitted, result.total.true), (0, 1))

    def test_ambiguous_spans_have_no_link(self):
        a = trace_of(self.requests[0])
        a[1]["parent_span_id"] = ""
        a[1]["attributes"]["weft.link.source"] = "ambiguous"
        result = scoring.score(a, scoring.expected_spans(self.requests[:1], [FRONT, BACK]))
        self.assertEqual(result.by_source["ambiguous"].spans, 1)
        self.assertEqual(result.by_source["thread"].true, 1)
        self.assertEqual(result.by_source["thread"].correct, 0)
        self.assertEqual(result.total.precision, 1.0)
        rows = scoring.table_rows("x", result)
        self.assertTrue(rows[-1].startswith("| x | **all** |"))
        self.assertIn("| x | ambiguous | 1 | 0 | 0 | 0 | — | — |", rows)

    def test_unexpected_span_with_parent_is_wrong(self):
        a = trace_of(self.requests[0])
        stray = span("CLIENT", 2000, "/elsewhere", a[0], "thread")
        result = scoring.score(a + [stray], scoring.expected_spans(self.requests[:1],
                                                                   [FRONT, BACK]))
        self.assertEqual(result.unexpected_spans, 1)
        self.assertEqual(result.by_source["thread"].emitted, 2)
        self.assertEqual(result.by_source["thread"].correct, 1)


if __name__ == "__main__":
    unittest.main()
