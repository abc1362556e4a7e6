"""Ground truth and scores of weft's parent links.

The services forward the request id in the URL path, so the true parent of
every span follows from the path alone:
  - the front SERVER span of a request (sent by the untraced driver) has no
    parent;
  - a CLIENT span that tier t sends to tier t+1 is a child of the SERVER
    span tier t was serving: the same path for a proxy (nginx), the path
    without its last "-<j>" and one level deeper for a fan-out service
    (/r/q7-2/0 was made under /r/q7/1): link kind "in-process";
  - the SERVER span of tier t+1 is a child of the CLIENT span that sent its
    request (same path, same destination port): link kind "cross-process".

Spans are found in the export by (kind, port, path): a SERVER span by its
server.port (the Host header the caller sent) and url.path, a CLIENT span
by the server.port and path of its url.full.

Precision = correct links / links emitted (a span with a parent_span_id is an
emitted link; it is correct when that id and the trace id are the true
parent's); recall = correct links / true links. A span missing from the
export misses its link. A span with a parent whose true parent is missing
from the export cannot be judged: it leaves both counts (unverifiable).
"""
from dataclasses import dataclass, field
from urllib.parse import urlsplit

IN_PROCESS = "in-process"
CROSS_PROCESS = "cross-process"
ROOT = "root"
# The weft.link.source values a correct link of each kind is expected to
# carry; the first one present in the export gets the kind's true links.
EXPECTED_SOURCES = {IN_PROCESS: ("thread", "goroutine", "proxy-turn", "handoff", "async-task",
                                 "node-async"),
                    CROSS_PROCESS: ("peer-socket",)}
SOURCE_ORDER = ("thread", "goroutine", "proxy-turn", "handoff", "async-task", "node-async",
                "peer-socket", "traceparent", "none", "ambiguous")


@dataclass(frozen=True)
class Tier:
    """One service of a runtime's chain; tier i calls tier i+1."""
    name: str
    port: int
    proxy: bool = False  # forwards each request as is (nginx), else fans out
    parallel: bool = False  # honours par=1 (concurrent downstream calls)


@dataclass(frozen=True)
class Expected:
    key: tuple  # (kind, port, path)
    parent: tuple  # key of the true parent, or None
    relation: str
    detail: str = ""  # finer group for diagnostics, e.g. "in-process, parallel fan-out"


def _server_key(tier, path):
    return ("SERVER", tier.port, path)


def _client_key(callee, path):
    return ("CLIENT", callee.port, path)


def expected_spans(front_requests, tiers):
    """Every span the front requests must produce, with its true parent."""
    out = []
    for request in front_requests:
        arriving = [(request.path, 1)]  # (path, depth) served by the current tier
        out.append(Expected(_server_key(tiers[0], request.path), None, ROOT))
        for caller, callee in zip(tiers, tiers[1:]):
            sent = []
            for path, depth in arriving:
                if caller.proxy:
                    children = [(path, depth)]
                elif depth > 0:
                    children = [(p, depth - 1) for p in request.child_paths()]
                else:
                    children = []
                concurrent = caller.parallel and request.parallel and len(children) > 1
                shape = ("proxied" if caller.proxy else
                         "parallel fan-out" if concurrent else "sequential calls")
                for child_path, child_depth in children:
                    client = _client_key(callee, child_path)
                    out.append(Expected(client, _server_key(caller, path), IN_PROCESS,
                                        "%s, %s" % (IN_PROCESS, shape)))
                    out.append(Expected(_server_key(callee, child_path), client, CROSS_PROCESS))
                    sent.append((child_path, child_depth))
            arriving = sent
    return out


def span_key(span):
    attributes = span.get("attributes", {})
    port = attributes.get("server.port")
    if span.get("kind") == "SERVER":
        return ("SERVER", port, attributes.get("url.path"))
    if span.get("kind") == "CLIENT":
        return ("CLIENT", port, urlsplit(str(attributes.get("url.full", ""))).path)
    return (span.get("kind"), port, None)


def link_source(span):
    return str(span.get("attributes", {}).get("weft.link.source", "(absent)"))


@dataclass
class Row:
    spans: int = 0
    emitted: int = 0
    correct: int = 0
    true: int = 0

    def add(self, other):
        self.spans += other.spans
        self.emitted += other.emitted
        self.correct += other.correct
        self.true += other.true

    @property
    def precision(self):
        return self.correct / self.emitted if self.emitted else None

    @property
    def recall(self):
        return self.correct / self.true if self.true else None


@dataclass
class Score:
    by_source: dict = field(default_factory=dict)  # weft.link.source -> Row
    by_relation: dict = field(default_factory=dict)  # relation -> Row
    by_detail: dict = field(default_factory=dict)  # Expected.detail -> Row
    missing_spans: int = 0
    duplicate_spans: int = 0
    unexpected_spans: int = 0
    unverifiable_links: int = 0  # left out: the child has a parent, the true one is not exported
    # Wrong links by what the claimed parent was when the child started:
    # still open (the thread had read another request that was unanswered:
    # interleaving), already ended (a stale context), or not exported.
    wrong_parent_open: int = 0
    wrong_parent_ended: int = 0
    wrong_parent_absent: int = 0
    wrong_examples: list = field(default_factory=list)

    @property
    def total(self):
        row = Row()
        for r in self.by_source.values():
            row.add(r)
        return row


def _describe(span):
    if span is None:
        return "(span not exported)"
    kind, port, path = span_key(span)
    return "%s :%s %s link=%s" % (kind, port, path, link_source(span))


def score(spans, expected, max_examples=8):
    """Scores exported `spans` against the `expected` ones."""
    result = Score()
    index = {}
    by_id = {}
    for span in spans:
        key = span_key(span)
        if key in index:
            result.duplicate_spans += 1
        else:
            index[key] = span
        by_id[span["span_id"]] = span
    expected_keys = set()
    true_by_relation = {}
    for e in expected:
        expected_keys.add(e.key)
        rows = [result.by_relation.setdefault(e.relation, Row())]
        if e.detail:
            rows.append(result.by_detail.setdefault(e.detail, Row()))
        for row in rows:
            row.spans += 1
            if e.parent is not None:
                row.true += 1
        if e.parent is not None:
            true_by_relation[e.relation] = true_by_relation.get(e.relation, 0) + 1
        span = index.get(e.key)
        if span is None:
            result.missing_spans += 1
            continue
        parent = index.get(e.parent) if e.parent is not None else None
        if e.parent is not None and parent is None and span.get("parent_span_id"):
            # The true parent was not exported, so its span id is unknown:
            # this link can be judged neither right nor wrong.
            result.unverifiable_links += 1
            for row in rows:
                row.true -= 1
            true_by_relation[e.relation] -= 1
            continue
        source_row = result.by_source.setdefault(link_source(span), Row())
        source_row.spans += 1
        if not span.get("parent_span_id"):
            continue
        source_row.emitted += 1
        for row in rows:
            row.emitted += 1
        if (parent is not None and span["parent_span_id"] == parent["span_id"] and
                span["trace_id"] == parent["trace_id"]):
            source_row.correct += 1
            for row in rows:
                row.correct += 1
        else:
            claimed = by_id.get(span["parent_span_id"])
            if claimed is None:
                result.wrong_parent_absent += 1
            elif claimed["end_unix_nano"] >= span["start_unix_nano"]:
                result.wrong_parent_open += 1
            else:
                result.wrong_parent_ended += 1
            if len(result.wrong_examples) < max_examples:
                result.wrong_examples.append("%s under %s (true parent: %s)" % (
                    _describe(span), _describe(claimed),
                    _describe(parent) if e.parent is not None else "none"))
    for span in spans:
        if span_key(span) in expected_keys:
            continue
        # Not produced by the plan (or unreadable): any link it has is wrong.
        result.unexpected_spans += 1
        row = result.by_source.setdefault(link_source(span), Row())
        row.spans += 1
        if span.get("parent_span_id"):
            row.emitted += 1
            if len(result.wrong_examples) < max_examples:
                result.wrong_examples.append("unexpected span %s" % _describe(span))
    for relation, true in true_by_relation.items():
        sources = EXPECTED_SOURCES[relation]
        target = next((s for s in sources if s in result.by_source and
                       result.by_source[s].emitted), sources[0])
        result.by_source.setdefault(target, Row()).true += true
    return result


def _percent(value):
    return "—" if value is None else "%.2f%%" % (100.0 * value)


def _sources_in_order(by_source):
    known = [s for s in SOURCE_ORDER if s in by_source]
    return known + sorted(s for s in by_source if s not in SOURCE_ORDER)


def table_rows(runtime, result):
    """Markdown table rows (runtime, link kind, spans, emitted, correct, true,
    precision, recall) for one runtime, its per-source rows then "all"."""
    lines = []
    for source in _sources_in_order(result.by_source):
        row = result.by_source[source]
        lines.append("| %s | %s | %d | %d | %d | %d | %s | %s |" % (
            runtime, source, row.spans, row.emitted, row.correct, row.true,
            _percent(row.precision), _percent(row.recall)))
    total = result.total
    lines.append("| %s | **all** | %d | %d | %d | %d | **%s** | **%s** |" % (
        runtime, total.spans, total.emitted, total.correct, total.true,
        _percent(total.precision), _percent(total.recall)))
    return lines


TABLE_HEADER = ["| runtime | link kind | spans | emitted | correct | true | precision | recall |",
                "|---|---|---:|---:|---:|---:|---:|---:|"]


def relation_lines(result):
    """Plain-text breakdown by link kind (in-process / cross-process / root)."""
    lines = []
    groups = [(r, result.by_relation.get(r)) for r in (ROOT, IN_PROCESS, CROSS_PROCESS)]
    groups += sorted(result.by_detail.items())
    for relation, row in groups:
        if row is None:
            continue
        lines.append("  %-36s spans %5d  true %5d  emitted %5d  correct %5d  precision %8s  "
                     "recall %8s" % (relation, row.spans, row.true, row.emitted, row.correct,
                                     _percent(row.precision), _percent(row.recall)))
    lines.append("  missing spans %d, duplicate keys %d, unexpected spans %d, unverifiable "
                 "links %d" % (result.missing_spans, result.duplicate_spans,
                               result.unexpected_spans, result.unverifiable_links))
    lines.append("  wrong links: claimed parent still open at the child's start %d, already "
                 "ended %d, not exported %d" % (result.wrong_parent_open,
                                                result.wrong_parent_ended,
                                                result.wrong_parent_absent))
    return lines
