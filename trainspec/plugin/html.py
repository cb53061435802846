"""``--trainspec-html PATH``: the session as one self-contained HTML file.

No scripts, no external styles or fonts; charts are inline SVG (:mod:`trainspec.plugin.svg`).
It holds the pair table; per pair the broken and fixed runs' curves overlaid (loss, accuracy,
validation, every layer's gradient norm), the specs with their outcomes and verdicts, and the
doctor's primary finding on the broken run; per sweep its table and a chart of its metrics
against the swept value.
"""

from __future__ import annotations

import os
from collections import OrderedDict
from html import escape
from typing import Any

from trainspec.constants import Outcome, Verdict
from trainspec.environment import write_atomic
from trainspec.plugin.names import short_spec, spec_names
from trainspec.plugin.report import VERDICT_STYLE, by_pair, pair_verdict, summary_line
from trainspec.plugin.results import ResultBook, SpecResult
from trainspec.plugin.svg import BROKEN, FIXED, Line, line_chart
from trainspec.series import Change

_CSS = """
body{font:14px/1.45 system-ui,-apple-system,"Segoe UI",sans-serif;margin:24px;color:#222;
max-width:1180px}
h1{font-size:22px;margin:0 0 4px}h2{font-size:18px;margin:28px 0 8px;border-bottom:1px solid #ddd}
h3{font-size:16px;margin:20px 0 6px}
table{border-collapse:collapse;margin:6px 0 12px}th,td{padding:3px 10px;text-align:left;
border-bottom:1px solid #eee;vertical-align:top}th{background:#f4f4f4}
td.num{text-align:right;font-variant-numeric:tabular-nums}
.caught,.passed{color:#1a7f37}.missed,.failed{color:#c62828;font-weight:600}
.false_alarm{color:#b26a00;font-weight:600}.error{color:#8e24aa;font-weight:600}
.incomplete,.skipped{color:#777}
.summary{color:#444}.charts{display:flex;flex-wrap:wrap;gap:10px}
section.pair{border:1px solid #e3e3e3;border-radius:6px;padding:4px 14px 10px;margin:12px 0}
.finding{background:#fff8e1;border-left:4px solid #f0b400;padding:6px 10px;margin:8px 0}
.meta{color:#555}figure{margin:0;width:362px}figcaption{font-size:12px}
svg.chart{background:#fff;border:1px solid #eee}svg .title{font:600 12px sans-serif}
svg .tick,svg .legend,svg .axis{font:10px sans-serif;fill:#444}
svg .plot{fill:none;stroke:#ccc}svg .grid{stroke:#eee}svg .empty{font:12px sans-serif;fill:#999}
"""


def _verdict_cell(verdict: Verdict) -> str:
    label = VERDICT_STYLE[verdict][0]
    return f'<td class="verdict {verdict.value}">{escape(label)}</td>'


def _anchor(name: str) -> str:
    return "pair-" + "".join(c if c.isalnum() or c in "-_" else "-" for c in name)


def _side_result(results: list[SpecResult], pair: str, variant: str) -> SpecResult | None:
    """The first result of the pair's variant that carries the run's curves."""
    sides = [r for r in results if r.kind == "pair" and r.group == pair and r.variant == variant]
    return next((r for r in sides if r.curves), sides[0] if sides else None)


def _curve(result: SpecResult | None, name: str) -> dict[str, Any] | None:
    return (result.curves or {}).get(name) if result is not None else None


def _line(label: str, curve: dict[str, Any], color: str, **kwargs: Any) -> Line:
    start, end = curve.get("steps") or [0, None]
    return Line(label, curve.get("points") or [], start, end, color, **kwargs)


def _describe(curve: dict[str, Any] | None) -> str:
    change = (curve or {}).get("change")
    return Change.from_json(change).describe() if change else ""


def pair_charts(broken: SpecResult | None, fixed: SpecResult | None) -> list[str]:
    """Broken and fixed curves overlaid: loss, each metric, validation, gradient norms."""
    charts = []
    names = list(OrderedDict.fromkeys(
        n for r in (broken, fixed) if r is not None for n in (r.curves or {})
        if not n.startswith("grad_norm/")))
    for name in names:
        lines = []
        for variant, result, color in (("broken", broken, BROKEN), ("fixed", fixed, FIXED)):
            curve = _curve(result, name)
            if curve:
                lines.append(_line(variant, curve, color))
        title = name + (" (validation)" if name.startswith("val_") else "")
        charts.append(_figure(line_chart(title, lines), [
            f"{variant}: {_describe(_curve(r, name))}" for variant, r in
            (("broken", broken), ("fixed", fixed)) if _curve(r, name)]))
    grads = []
    for variant, result, color in (("broken", broken, BROKEN), ("fixed", fixed, FIXED)):
        layers = [n for n in (result.curves if result else {}) if n.startswith("grad_norm/")]
        for i, name in enumerate(layers):
            curve = _curve(result, name)
            depth = 0.35 + 0.65 * (1 - i / max(len(layers) - 1, 1))  # first layer darkest
            label = f"{variant} ({len(layers)} layers)" if i == 0 else ""
            grads.append(_line(label, curve or {}, color, opacity=round(depth, 2),
                               dashed=variant == "broken"))
    if grads:
        charts.append(_figure(line_chart("gradient norm per layer", grads), []))
    return charts


def _figure(svg: str, notes: list[str]) -> str:
    caption = "".join(f"<div>{escape(n)}</div>" for n in notes)
    return f'<figure>{svg}<figcaption class="meta">{caption}</figcaption></figure>'


def _finding_html(result: SpecResult | None) -> str:
    if result is None:
        return ""
    findings = result.findings or []
    primary = result.primary or (findings[0] if findings else None)
    if not primary:
        return '<p class="meta">The doctor finds nothing wrong with the broken run.</p>'
    where = f" ({escape(str(primary['where']))})" if primary.get("where") else ""
    fix = primary.get("fixes") or []
    others = [str(f.get("symptom")) for f in findings if f.get("symptom") != primary.get("symptom")]
    return (f'<div class="finding"><b>doctor: {escape(str(primary.get("symptom")))}</b>{where}: '
            f'{escape(str(primary.get("explanation") or ""))}'
            + (f"<br><b>fix:</b> {escape(str(fix[0]))}" if fix else "")
            + (f'<br><span class="meta">also: {escape(", ".join(others))}</span>' if others
               else "") + "</div>")


def _pairs_section(book: ResultBook) -> str:
    verdicts = book.pair_verdicts()
    if not verdicts:
        return ""
    pairs = by_pair(verdicts)
    names = spec_names(list(OrderedDict.fromkeys(v.spec for v in verdicts)))
    rows = []
    sections = []
    for pair, items in pairs.items():
        worst = pair_verdict(items)
        caught = [names[v.spec] for v in items if v.verdict is Verdict.CAUGHT]
        rows.append(f'<tr class="pair-row"><td><a href="#{_anchor(pair)}">{escape(pair)}</a></td>'
                    f'{_verdict_cell(worst)}<td class="num">{len(caught)}/{len(items)}</td>'
                    f'<td>{escape(", ".join(caught) or "—")}</td></tr>')
        broken = _side_result(book.results, pair, "broken")
        fixed = _side_result(book.results, pair, "fixed")
        spec_rows = "".join(
            f"<tr><td>{escape(names[v.spec])}</td>"
            f'<td class="{v.broken.outcome if v.broken else ""}">'
            f'{escape(v.broken.outcome if v.broken else "—")}</td>'
            f'<td class="{v.fixed.outcome if v.fixed else ""}">'
            f'{escape(v.fixed.outcome if v.fixed else "—")}</td>{_verdict_cell(v.verdict)}</tr>'
            for v in items)
        cause = next((r for r in (broken, fixed) if r is not None and (r.cause or r.fix)), None)
        about = ""
        if cause is not None:
            about = (f'<p><b>bug:</b> {escape(cause.cause or "—")} · <b>fix:</b> '
                     f'{escape(cause.fix or "—")}</p>')
        seeds = " · ".join(f"{variant}: seed {r.seed}" for variant, r in
                           (("broken", broken), ("fixed", fixed)) if r is not None)
        sections.append(
            f'<section class="pair" id="{_anchor(pair)}"><h3>{escape(pair)} '
            f'<span class="verdict {worst.value}">{escape(VERDICT_STYLE[worst][0])}</span></h3>'
            f'{about}<p class="meta">{escape(seeds)}; red: broken, blue: fixed</p>'
            f'<div class="charts">{"".join(pair_charts(broken, fixed))}</div>'
            f"<table class=\"specs\"><tr><th>spec</th><th>broken</th><th>fixed</th>"
            f"<th>verdict</th></tr>{spec_rows}</table>{_finding_html(broken)}</section>")
    table = ('<table class="pairs"><tr><th>pair</th><th>verdict</th><th>caught by</th>'
             f'<th>catching specs</th></tr>{"".join(rows)}</table>')
    return "<h2>Broken/fixed pairs</h2>" + table + "".join(sections)


def _sweeps_section(book: ResultBook) -> str:
    groups: dict[str, list[SpecResult]] = OrderedDict()
    for r in book.by_kind("sweep"):
        groups.setdefault(r.group or "", []).append(r)
    out = []
    for sweep, items in groups.items():
        points: dict[str, dict[str, SpecResult]] = OrderedDict()
        for r in items:
            points.setdefault(r.variant or "", {})[r.spec] = r
        labels = list(points)
        prefix = labels[0].split("=", 1)[0] + "=" if "=" in labels[0] else ""
        if not prefix or not all(label.startswith(prefix) for label in labels):
            prefix = ""
        metrics = list(OrderedDict.fromkeys(
            k for r in items for k in ((r.summary or {}).get("metrics_last") or {})))
        vals = list(OrderedDict.fromkeys(
            k for r in items for k in ((r.summary or {}).get("val") or {})))
        specs = list(OrderedDict.fromkeys(r.spec for r in items))
        head = "".join(f"<th>{escape(h)}</th>" for h in
                       [prefix[:-1] or "point", "loss (start → end)", *metrics, *vals, "specs"])
        rows = []
        series: dict[str, list[float | None]] = {k: [] for k in metrics + vals}
        for point, by_spec in points.items():
            first = next(iter(by_spec.values()))
            loss = (first.curves.get("loss") or {}).get("change")
            change = Change.from_json(loss) if loss else None
            span = "{} → {}".format(*change.endpoints()) if change else "—"
            cells = [escape(point.removeprefix(prefix)), escape(span)]
            for key in metrics:
                c = (first.curves.get(key) or {}).get("change")
                value = c["end"] if c else ((first.summary or {}).get("metrics_last") or {}).get(key)
                series[key].append(value)
                cells.append(_num(value))
            for key in vals:
                value = ((first.summary or {}).get("val") or {}).get(key)
                series[key].append(value)
                cells.append(_num(value))
            passed = sum(r.outcome == Outcome.PASSED.value for r in by_spec.values())
            bad = [f"{short_spec(r.spec)} {r.outcome}" for r in by_spec.values()
                   if r.outcome != Outcome.PASSED.value]
            cls = "passed" if not bad else "failed"
            cells.append(f'<span class="{cls}">{passed}/{len(by_spec)} passed'
                         + (f": {escape(', '.join(bad))}" if bad else "") + "</span>")
            rows.append('<tr class="sweep-row">' + "".join(
                f'<td{" class=num" if 1 < i < len(cells) - 1 else ""}>{c}</td>'
                for i, c in enumerate(cells)) + "</tr>")
        palette = ["#1f77b4", "#ff7f0e", "#2ca02c", "#9467bd", "#8c564b"]
        chart_keys = [k for k in metrics + vals if "acc" in k] or (metrics + vals)[:2]
        lines = [Line(k, series[k], 0, len(labels) - 1, palette[i % len(palette)], markers=True)
                 for i, k in enumerate(chart_keys)]
        chart = line_chart(f"{', '.join(chart_keys)} by {prefix[:-1] or 'point'}", lines,
                           width=max(360, 90 * len(labels)), x_label=prefix[:-1] or "point",
                           x_ticks=[p.removeprefix(prefix) for p in labels], log=False)
        out.append(f'<h3>Sweep {escape(sweep)}</h3><table class="sweep"><tr>{head}</tr>'
                   f'{"".join(rows)}</table>{chart}'
                   f'<p class="meta">{len(specs)} spec(s) per point; metrics: median of the last '
                   f"steps of each run, val_*: after the last step</p>")
    return "<h2>Sweeps</h2>" + "".join(out) if out else ""


def _num(value: Any) -> str:
    return "—" if value is None else (f"{value:.3g}" if isinstance(value, float) else str(value))


def _problems_section(book: ResultBook) -> str:
    from trainspec.plugin.report import _panel_specs

    items = _panel_specs(book, "problems")
    if not items:
        return ""
    rows = "".join(
        f"<li><b>{escape(p.title)}</b>: {escape((p.message or p.result.message or '').strip())}"
        f'<br><code>pytest "{escape(p.result.nodeid)}"</code></li>' for p in items)
    return f"<h2>Needs attention</h2><ul>{rows}</ul>"


def render_html(book: ResultBook) -> str:
    """The report as one HTML document (no external resources)."""
    summary = escape(summary_line(book).plain)
    body = (f"<h1>trainspec report</h1><p class=\"summary\">{summary}</p>"
            + _problems_section(book) + _pairs_section(book) + _sweeps_section(book))
    return ('<!DOCTYPE html><html lang="en"><head><meta charset="utf-8">'
            '<meta name="viewport" content="width=device-width, initial-scale=1">'
            f"<title>trainspec report</title><style>{_CSS}</style></head><body>{body}"
            "</body></html>\n")


def write_html(book: ResultBook, path: str | os.PathLike[str]) -> None:
    """Write the HTML report to ``path`` atomically."""
    write_atomic(path, render_html(book))
