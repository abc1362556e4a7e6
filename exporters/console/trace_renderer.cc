#include "exporters/console/trace_renderer.h"

#include <algorithm>
#include <cmath>
#include <optional>
#include <unordered_map>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"

namespace weft {

namespace {

constexpr absl::string_view kReset = "\033[0m";
constexpr absl::string_view kBold = "\033[1m";
constexpr absl::string_view kDim = "\033[2m";
constexpr absl::string_view kRed = "\033[31m";
constexpr absl::string_view kGreen = "\033[32m";
constexpr absl::string_view kYellow = "\033[33m";
constexpr absl::string_view kCyan = "\033[36m";

uint64_t Key(const SpanId& id) {
  uint64_t key = 0;
  for (uint8_t b : id) key = (key << 8) | b;
  return key;
}

absl::string_view KindName(SpanKind kind) {
  switch (kind) {
    case SpanKind::kServer:
      return "SERVER";
    case SpanKind::kClient:
      return "CLIENT";
    case SpanKind::kInternal:
      return "INTERNAL";
    default:
      return "UNSPEC";
  }
}

std::optional<std::string> HttpStatus(const Span& span) {
  for (const Attribute& a : span.attributes) {
    if (a.key != "http.response.status_code" && a.key != "http.status_code") continue;
    if (const int64_t* n = std::get_if<int64_t>(&a.value)) return absl::StrCat(*n);
    if (const std::string* s = std::get_if<std::string>(&a.value)) return *s;
  }
  return std::nullopt;
}

std::string StatusText(const Span& span) {
  std::optional<std::string> http = HttpStatus(span);
  if (span.status == StatusCode::kError) return http ? absl::StrCat(*http, " ERROR") : "ERROR";
  if (http) return *http;
  return span.status == StatusCode::kOk ? "OK" : "-";
}

std::string Paint(absl::string_view text, absl::string_view color, bool enabled) {
  if (!enabled || color.empty() || text.empty()) return std::string(text);
  return absl::StrCat(color, text, kReset);
}

// Display width: counts UTF-8 code points, which is right for the bars and
// close enough for names.
size_t Width(absl::string_view text) {
  size_t width = 0;
  for (unsigned char c : text) width += (c & 0xC0) != 0x80;
  return width;
}

std::string Truncate(const std::string& text, size_t max_width) {
  if (Width(text) <= max_width) return text;
  std::string out;
  size_t width = 0;
  for (size_t i = 0; i < text.size(); ++i) {
    const unsigned char c = static_cast<unsigned char>(text[i]);
    if ((c & 0xC0) != 0x80) {
      if (width + 1 >= max_width) break;
      ++width;
    }
    out.push_back(text[i]);
  }
  return out + "~";
}

std::string Bar(uint64_t t0, uint64_t total, const Span& span, const RenderOptions& options) {
  const int width = std::max(1, options.bar_width);
  int first = 0;
  int last = width;  // exclusive
  if (total > 0) {
    const double scale = static_cast<double>(width) / static_cast<double>(total);
    const uint64_t start = std::max(span.start_unix_nano, t0) - t0;
    const uint64_t end = std::max(span.end_unix_nano, span.start_unix_nano) - t0;
    first =
        std::clamp(static_cast<int>(std::floor(static_cast<double>(start) * scale)), 0, width - 1);
    last =
        std::clamp(static_cast<int>(std::ceil(static_cast<double>(end) * scale)), first + 1, width);
  }
  const std::string fill = options.unicode ? "\u2588" : "=";
  std::string bar(static_cast<size_t>(first), ' ');
  std::string body;
  for (int i = first; i < last; ++i) body += fill;
  bar += Paint(body, span.status == StatusCode::kError ? kRed : kGreen, options.color);
  bar += std::string(static_cast<size_t>(width - last), ' ');
  return absl::StrCat("|", bar, "|");
}

struct Line {
  const Span* span;
  int depth;
  std::string marker;  // e.g. orphan note
};

}  // namespace

std::string RenderTrace(const ReadyTrace& trace, const RenderOptions& options) {
  const std::vector<Span>& spans = trace.spans;
  if (spans.empty()) return "";
  std::unordered_map<uint64_t, size_t> index;
  for (size_t i = 0; i < spans.size(); ++i) index.emplace(Key(spans[i].span_id), i);

  auto earlier = [&](size_t a, size_t b) {
    if (spans[a].start_unix_nano != spans[b].start_unix_nano) {
      return spans[a].start_unix_nano < spans[b].start_unix_nano;
    }
    return spans[a].span_id < spans[b].span_id;
  };

  std::unordered_map<size_t, std::vector<size_t>> children;
  std::vector<size_t> top;
  for (size_t i = 0; i < spans.size(); ++i) {
    auto parent = spans[i].IsRoot() ? index.end() : index.find(Key(spans[i].parent_span_id));
    if (parent == index.end() || parent->second == i) {
      top.push_back(i);
    } else {
      children[parent->second].push_back(i);
    }
  }
  for (auto& [parent, kids] : children) std::sort(kids.begin(), kids.end(), earlier);
  std::sort(top.begin(), top.end(), earlier);

  // The primary root: a true root, else a SERVER span entered from outside, else the earliest.
  auto pick = [&](auto predicate) -> std::optional<size_t> {
    for (size_t i : top)
      if (predicate(spans[i])) return i;
    return std::nullopt;
  };
  std::optional<size_t> root = pick([](const Span& s) { return s.IsRoot(); });
  if (!root) root = pick([](const Span& s) { return s.kind == SpanKind::kServer; });
  if (!root) root = top.front();

  std::vector<Line> lines;
  std::vector<bool> visited(spans.size(), false);
  auto walk = [&](auto&& self, size_t i, int depth, std::string marker) -> void {
    if (visited[i]) return;  // defends against id cycles in bad input
    visited[i] = true;
    lines.push_back({&spans[i], depth, std::move(marker)});
    auto it = children.find(i);
    if (it == children.end()) return;
    for (size_t child : it->second) self(self, child, depth + 1, "");
  };
  // A root that is neither a true root nor a SERVER entered from elsewhere lost its parent.
  const Span& root_span = spans[*root];
  walk(walk, *root, 0,
       root_span.IsRoot() || root_span.kind == SpanKind::kServer
           ? ""
           : absl::StrCat("[orphan: parent ", ToHex(root_span.parent_span_id), " not seen]"));
  for (size_t i : top) {
    if (i == *root) continue;
    const std::string marker =
        spans[i].IsRoot()
            ? "[another root]"
            : absl::StrCat("[orphan: parent ", ToHex(spans[i].parent_span_id), " not seen]");
    walk(walk, i, 1, marker);
  }
  // Spans only reachable through a cycle are still shown rather than lost.
  for (size_t i = 0; i < spans.size(); ++i) {
    if (!visited[i]) walk(walk, i, 1, "[cycle]");
  }

  uint64_t t0 = UINT64_MAX;
  uint64_t t1 = 0;
  for (const Span& s : spans) {
    t0 = std::min(t0, s.start_unix_nano);
    t1 = std::max({t1, s.end_unix_nano, s.start_unix_nano});
  }
  const uint64_t total = t1 - t0;

  std::string note;
  switch (trace.reason) {
    case ReadyTrace::Reason::kComplete:
      break;
    case ReadyTrace::Reason::kLate:
      note = "  (late spans of a trace printed earlier)";
      break;
    case ReadyTrace::Reason::kTimedOut:
      note = "  (incomplete: root never arrived)";
      break;
    case ReadyTrace::Reason::kEvicted:
      note = "  (incomplete: printed early, buffer full)";
      break;
    case ReadyTrace::Reason::kFlushed:
      note = "  (incomplete: flushed before the root arrived)";
      break;
  }
  std::string out =
      Paint(absl::StrFormat("trace %s  %d span%s  %.3f ms", ToHex(trace.trace_id), spans.size(),
                            spans.size() == 1 ? "" : "s", static_cast<double>(total) / 1e6),
            kBold, options.color);
  absl::StrAppend(&out, Paint(note, kYellow, options.color), "\n");

  // Plain text decides widths; colour is added piece by piece afterwards.
  struct Pieces {
    std::string indent, service, kind, name, marker;
    size_t width = 0;
  };
  std::vector<Pieces> rows;
  size_t label_width = 0;
  const size_t max_label = static_cast<size_t>(std::max(16, options.max_label_width));
  for (const Line& line : lines) {
    Pieces p;
    p.indent = std::string(2 * static_cast<size_t>(line.depth), ' ');
    const std::string& service = line.span->resource ? line.span->resource->service_name : "";
    p.service = service.empty() ? "?" : service;
    p.kind = std::string(KindName(line.span->kind));
    p.name = line.span->name.empty() ? "(unnamed)" : line.span->name;
    p.marker = line.marker.empty() ? "" : absl::StrCat(" ", line.marker);
    const size_t fixed = Width(p.indent) + Width(p.service) + 1 + Width(p.kind) + 1;
    const size_t room = max_label > fixed ? max_label - fixed : 1;
    std::string tail = Truncate(p.name + p.marker, room);
    if (Width(tail) <= Width(p.name)) {
      p.name = tail;
      p.marker.clear();
    } else {
      p.marker = tail.substr(p.name.size());
    }
    p.width = fixed + Width(p.name) + Width(p.marker);
    label_width = std::max(label_width, p.width);
    rows.push_back(std::move(p));
  }
  for (size_t i = 0; i < lines.size(); ++i) {
    const Span& span = *lines[i].span;
    const Pieces& p = rows[i];
    const bool error = span.status == StatusCode::kError;
    const uint64_t duration =
        span.end_unix_nano > span.start_unix_nano ? span.end_unix_nano - span.start_unix_nano : 0;
    absl::StrAppend(
        &out, "  ", p.indent, Paint(p.service, kCyan, options.color), " ",
        Paint(p.kind, kDim, options.color), " ", p.name, Paint(p.marker, kYellow, options.color),
        std::string(label_width - p.width, ' '), "  ",
        Paint(absl::StrFormat("%9s", StatusText(span)), error ? kRed : "", options.color),
        absl::StrFormat(" %10.3f ms ", static_cast<double>(duration) / 1e6),
        Bar(t0, total, span, options), "\n");
  }
  return out;
}

}  // namespace weft
