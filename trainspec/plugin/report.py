"""The Rich report shown at the end of a pytest session.

Quiet when things go as expected, as pytest is: by default (``summary``) a table of pairs (one
line a pair: its verdict and how many specs catch it), a table per sweep, and one summary line;
a panel only for what needs attention (a missed bug, a false alarm, an error, a failing spec).
``full`` adds a panel for every caught bug, ``problems`` shows only the problems.

A panel says what was measured and required, where, the curve (one sparkline between its start
and end values, as :meth:`trainspec.Series.change` defines them), the likely cause and fix, the
doctor's diagnosis (once per run; the run's other panels refer to it) and, under the panel, the
command that reproduces it on one unwrapped line.
"""

from __future__ import annotations

import io
from collections import OrderedDict
from dataclasses import dataclass
from typing import Any

from rich.console import Console, Group, RenderableType
from rich.panel import Panel
from rich.text import Text

from trainspec.constants import Outcome, Verdict
from trainspec.plugin.layout import Column, fit_table
from trainspec.plugin.names import short_spec, spec_names
from trainspec.plugin.results import PairVerdict, ResultBook, SpecResult
from trainspec.series import Change
from trainspec.sparkline import sparkline

VERDICT_STYLE = {
    Verdict.CAUGHT: ("✔ caught", "green"),
    Verdict.MISSED: ("✘ missed", "bold red"),
    Verdict.FALSE_ALARM: ("⚠ false alarm", "bold yellow"),
    Verdict.ERROR: ("! error", "bold magenta"),
    Verdict.INCOMPLETE: ("· incomplete", "dim"),
}
OUTCOME_STYLE = {
    Outcome.PASSED.value: ("passed", "green"),
    Outcome.FAILED.value: ("failed", "bold red"),
    Outcome.ERROR.value: ("error", "bold magenta"),
    Outcome.SKIPPED.value: ("skipped", "dim"),
}


def pair_label(pair: str, verdicts: list[PairVerdict]) -> str:
    """The pair's name, with the course's name for it when the pair has an alias."""
    for v in verdicts:
        for side in (v.broken, v.fixed):
            if v.pair == pair and side is not None and side.alias:
                return f"{pair} ({side.alias})"
    return pair


def pair_verdict(items: list[PairVerdict]) -> Verdict:
    """A pair is caught when some spec catches it and no spec errs or fails its fixed model."""
    found = {v.verdict for v in items}
    for bad in (Verdict.ERROR, Verdict.FALSE_ALARM):
        if bad in found:
            return bad
    if Verdict.CAUGHT in found:
        return Verdict.CAUGHT
    return Verdict.MISSED if Verdict.MISSED in found else Verdict.INCOMPLETE


def by_pair(verdicts: list[PairVerdict]) -> dict[str, list[PairVerdict]]:
    """The verdicts grouped by pair, pairs in the order they first appear."""
    pairs: dict[str, list[PairVerdict]] = OrderedDict()
    for v in verdicts:
        pairs.setdefault(v.pair, []).append(v)
    return pairs


def pairs_table(verdicts: list[PairVerdict], width: int, names_of_catchers: bool = False,
                only_problems: bool = False) -> RenderableType | None:
    """One row a pair: its verdict, how many of the specs applied to it catch it, and (when
    some do not) which specs miss it, raise a false alarm or err; ``names_of_catchers`` also
    names the specs that catch it."""
    pairs = by_pair(verdicts)
    names = spec_names(list(OrderedDict.fromkeys(v.spec for v in verdicts)))
    rows = []
    problems = any(v.verdict is not Verdict.CAUGHT for v in verdicts)
    for pair, items in pairs.items():
        worst = pair_verdict(items)
        if only_problems and all(v.verdict is Verdict.CAUGHT for v in items):
            continue
        label, style = VERDICT_STYLE[worst]
        caught = [names[v.spec] for v in items if v.verdict is Verdict.CAUGHT]
        row: list[Any] = [pair_label(pair, items), Text(label, style=style),
                          Text(f"{len(caught)}/{len(items)}", style="green" if caught else "bold red")]
        if names_of_catchers:
            row.append(Text(", ".join(caught) or "—", style="green"))
        if problems:
            others = Text()
            for v in items:
                if v.verdict is Verdict.CAUGHT:
                    continue
                vlabel, vstyle = VERDICT_STYLE[v.verdict]
                if others:
                    others.append(", ")
                others.append(f"{names[v.spec]} ({vlabel.split(' ', 1)[1]})", style=vstyle)
            row.append(others or Text("—", style="dim"))
        rows.append(row)
    if not rows:
        return None
    columns = [Column("pair", style="bold", wrap=True), Column("verdict"),
               Column("caught by", short="by", legend="specs catching the bug / specs applied",
                      justify="right")]
    if names_of_catchers:
        columns.append(Column("catching specs", short="specs", wrap=True))
    if problems:
        columns.append(Column("not caught by", short="not by", wrap=True))
    title = "Broken/fixed pairs" + (" with problems" if only_problems else "")
    return fit_table(title, columns, rows, width)


def _change(result: SpecResult, name: str) -> Change | None:
    data = (result.curves.get(name) or {}).get("change")
    return Change.from_json(data) if data else None


def sweep_tables(results: list[SpecResult], width: int = 100) -> list[RenderableType]:
    """One table per sweep: a row per point with its run's loss (start -> end, as
    :meth:`~trainspec.Series.change` measures it), the metrics at the end, the validation
    metrics, and the specs' outcomes (with the loss curve when the terminal has room)."""
    tables = []
    groups: dict[str, list[SpecResult]] = OrderedDict()
    for r in results:
        groups.setdefault(r.group or "", []).append(r)
    for sweep, items in groups.items():
        specs = list(OrderedDict.fromkeys(r.spec for r in items))
        names = spec_names(specs)
        metric_keys = list(OrderedDict.fromkeys(
            k for r in items for k in ((r.summary or {}).get("metrics_last") or {})))
        val_keys = list(OrderedDict.fromkeys(
            k for r in items for k in ((r.summary or {}).get("val") or {})))
        labels = [r.variant or "" for r in items]
        prefix = labels[0].split("=", 1)[0] + "=" if "=" in labels[0] else ""
        if not prefix or not all(label.startswith(prefix) for label in labels):
            prefix = ""  # points "over=value" of one setting show just the value
        # the sweep's own columns (its points' settings) replace the label column
        setting_keys = list(OrderedDict.fromkeys(k for r in items for k in (r.columns or {})))
        if setting_keys:
            prefix = ""
        title = f"Sweep {sweep}" + (f" (over {prefix[:-1]})" if prefix else "")
        points: dict[str, dict[str, SpecResult]] = OrderedDict()
        for r in items:
            points.setdefault(r.variant or "", {})[r.spec] = r
        windows = set()
        rows = []
        for point, by_spec in points.items():
            first = next(iter(by_spec.values()))
            summary = first.summary or {}
            loss = _change(first, "loss")
            if loss is not None:
                windows.add(loss.window)
            if setting_keys:
                row: list[Any] = [_num((first.columns or {}).get(k)) for k in setting_keys]
            else:
                row = [point.removeprefix(prefix)]
            row.append(_loss_span(first, loss))
            for key in metric_keys:
                change = _change(first, key)
                row.append(_num(change.end if change else
                                (summary.get("metrics_last") or {}).get(key)))
            for key in val_keys:
                row.append(_num((summary.get("val") or {}).get(key)))
            row.append(_spec_outcomes([by_spec[s] for s in specs if s in by_spec], names))
            rows.append((row, first))
        if setting_keys:
            columns = [Column(k, short=_abbreviate(k), style="bold", wrap=True)
                       for k in setting_keys]
        else:
            columns = [Column(prefix[:-1] if prefix else "point", style="bold", wrap=True)]
        columns.append(Column("loss", justify="right"))
        columns += [Column(k, short=_abbreviate(k), justify="right") for k in metric_keys]
        columns += [Column(k, short=_abbreviate(k), justify="right") for k in val_keys]
        columns.append(Column("specs", wrap=True))
        table_rows = [row for row, _ in rows]
        if _fits_with_curve(columns, table_rows, width):
            at = len(columns) - len(metric_keys) - len(val_keys) - 1  # after the loss
            columns.insert(at, Column("curve", style="cyan"))
            for row, first in rows:
                row.insert(at, Text(sparkline(_curve(first.loss_curve), 12), style="cyan"))
        window = f"{windows.pop()} steps" if len(windows) == 1 else "a tenth of each run's steps"
        metrics = ", ".join(metric_keys)
        caption = (f"loss: median of the first -> of the last {window}"
                   + (f"; {metrics}: median of the last {window}" if metrics else "")
                   + ("; val_*: after the last step" if val_keys else ""))
        tables.append(Group(fit_table(title, columns, table_rows, width),
                            Text(caption, style="dim")))
    return tables


def _fits_with_curve(columns: list[Column], rows: list[list[Any]], width: int) -> bool:
    """Whether a 12-character curve column fits beside the table's values on one line each."""
    from trainspec.plugin.layout import overhead

    natural = sum(max([len(c.header)] + [len(_plain(r[i])) for r in rows])
                  for i, c in enumerate(columns))
    return natural + 12 + overhead(len(columns) + 1) <= width


def _plain(cell: Any) -> str:
    return cell.plain if isinstance(cell, Text) else str(cell)


def _abbreviate(key: str) -> str:
    """``val_accuracy`` -> ``v.acc``: the short header of a metric column."""
    words = {"accuracy": "acc", "loss": "loss", "val": "v.", "sparse": "", "categorical": "cat",
             "mean": "m", "squared": "sq", "absolute": "abs", "error": "err", "learning": "l",
             "rate": "r", "optimizer": "opt", "hidden": "h"}
    parts = key.split("_")
    out = ""
    for part in parts:
        out += words.get(part, part[:4])
    return out or key


def _spec_outcomes(results: list[SpecResult], names: dict[str, str]) -> Text:
    """``✔ 2/2``, or the specs that did not pass with their outcome."""
    passed = sum(r.outcome == Outcome.PASSED.value for r in results)
    if passed == len(results):
        return Text(f"✔ {passed}/{len(results)}", style="green")
    text = Text(f"{passed}/{len(results)} passed; ")
    bad = [r for r in results if r.outcome != Outcome.PASSED.value]
    for i, r in enumerate(bad):
        label, style = OUTCOME_STYLE.get(r.outcome, (r.outcome, ""))
        text.append(f"{names[r.spec]} {label}", style=style)
        if i < len(bad) - 1:
            text.append(", ")
    return text


def _loss_span(result: SpecResult, change: Change | None) -> str:
    """``2.31→0.123``: the loss's start and end as :meth:`Series.change` measures them."""
    summary = result.summary or {}
    if change is None:
        first, last = summary.get("loss_first"), summary.get("loss_last")
        if first is None and last is None:
            return "—"
        text = f"{_num(first, 3)}→{_num(last, 3)}"
    else:
        start, end = change.endpoints()
        text = f"{start}→{end}"
    if summary.get("nonfinite"):
        text += f" (NaN at {summary['nonfinite']['step']})"
    return text


def _num(value: Any, digits: int = 3) -> str:
    if value is None:
        return "—"
    if isinstance(value, float):
        return f"{value:.{digits}g}"
    return str(value)


def _curve(points: list[float | None] | None) -> list[float]:
    return [float("nan") if p is None else p for p in (points or [])]


def plain_table(results: list[SpecResult], width: int) -> RenderableType:
    """Specs applied to recipes (not pairs or sweeps): outcome and loss per spec."""
    rows = []
    for r in results:
        label, style = OUTCOME_STYLE.get(r.outcome, (r.outcome, ""))
        run = (r.label or r.group or "—") + (" (cached)" if r.from_cache else "")
        rows.append([short_spec(r.spec), run, Text(label, style=style),
                     _loss_span(r, _change(r, "loss"))])
    columns = [Column("spec", style="bold", wrap=True), Column("run", wrap=True),
               Column("outcome"), Column("loss", justify="right")]
    return fit_table("Specs on recipes", columns, rows, width)


def curve_line(name: str, points: list[float | None] | None, change: Change | None,
               width: int) -> Text:
    """``loss 2.31 ▇▆▅▃▂▁ 0.123  a 95% decrease (medians of the first and last 20 steps)``:
    one sparkline between the series' start and end values."""
    line = Text(f"{name} ", style="bold")
    if change is None or not change.steps:
        line.append(sparkline(_curve(points), max(10, min(40, width - len(name) - 1))),
                    style="cyan")
        return line
    start, end = change.endpoints()
    basis = ("first and last step" if change.window == 1
             else f"medians of the first and last {change.window} steps")
    tail = f"{change.amount()} ({basis})"
    room = width - len(name) - len(start) - len(end) - 3
    one_line = room - len(tail) - 2 >= 16
    spark = max(8, min(40, room - len(tail) - 2 if one_line else room))
    line.append(f"{start} ")
    line.append(sparkline(_curve(points), spark), style="cyan")
    line.append(f" {end}")
    line.append(f"  {tail}" if one_line else f"\n{' ' * (len(name) + 1)}{tail}", style="dim")
    return line


@dataclass
class _PanelSpec:
    result: SpecResult
    title: str
    border: str
    message: str | None = None


def failure_panel(result: SpecResult, title: str, border: str, width: int = 100,
                  diagnosis: Text | None = None, message: str | None = None) -> Panel:
    """A spec's outcome explained: message, where, one curve, likely cause and fix, the
    diagnosis (or where it is)."""
    parts: list[Any] = []
    details = result.details or {}
    inner = width - 4
    if message:
        parts.append(Text(message))
    elif details.get("what"):
        parts.append(Text(f"{details['what']}: measured {_measured(details)}, required "
                          f"{details.get('required')}"))
        if details.get("where"):
            parts.append(Text(f"where: {details['where']}"))
    elif result.message:
        parts.append(Text(result.message.strip()))
    if details.get("curve"):
        change = Change.from_json(details["change"]) if details.get("change") else None
        parts.append(curve_line(details.get("curve_name") or "curve", details["curve"], change,
                                inner))
    elif result.loss_curve and not _has_sparkline(result.message):
        parts.append(curve_line("loss", result.loss_curve, _change(result, "loss"), inner))
    facts = _facts(result)
    if facts:
        parts.append(Text(facts, style="dim"))
    if (result.cause or result.fix) and result.variant != "fixed":
        cause = Text("likely cause: ", style="bold")
        cause.append(result.cause or "—")
        parts.append(cause)
        if result.fix:
            fix = Text("fix: ", style="bold")
            fix.append(result.fix)
            parts.append(fix)
    if diagnosis is not None:
        parts.append(diagnosis)
    return Panel(Group(*parts), title=title, title_align="left", border_style=border,
                 width=width)


def _measured(details: dict[str, Any]) -> str:
    change = details.get("change")
    if change and details.get("measured") == change.get("relative_decrease"):
        return Change.from_json(change).amount()
    value = details.get("measured")
    return f"{value:.4g}" if isinstance(value, float) else str(value)


def _has_sparkline(message: str | None) -> bool:
    return bool(message) and any(ch in message for ch in "▁▂▃▄▅▆▇█")


def _facts(result: SpecResult) -> str:
    """The run's metrics at the end (medians of the last steps) and its validation metrics."""
    summary = result.summary or {}
    facts = []
    for key, value in (summary.get("metrics_last") or {}).items():
        change = _change(result, key)
        if change is not None and change.steps:
            facts.append(f"{key} {_num(change.end)} (median of the last {change.window})"
                         if change.window > 1 else f"{key} {_num(change.end)}")
        else:
            facts.append(f"{key} {_num(value)}")
    for key, value in (summary.get("val") or {}).items():
        facts.append(f"{key} {_num(value)}")
    return " · ".join(facts)


def diagnosis_text(result: SpecResult) -> Text | None:
    """The doctor's primary finding on the result's run, and the names of the others."""
    findings = result.findings or []
    primary = result.primary or (findings[0] if findings else None)
    if primary is None:
        return None
    text = Text(f"diagnosis: {primary.get('symptom')}", style="bold")
    if primary.get("where"):
        text.append(f" ({primary['where']})")
    if primary.get("explanation"):
        text.append(f": {primary['explanation']}", style="")
    if primary.get("fixes"):
        fix = str(primary["fixes"][0]).rstrip()
        text.append(f" Fix: {fix}{'' if fix.endswith(('.', '!', '?')) else '.'}", style="italic")
    others = [f.get("symptom") for f in findings if f.get("symptom") != primary.get("symptom")]
    if others:
        text.append(f" Also: {', '.join(str(o) for o in others)}.", style="dim")
    return text


def _panel_specs(book: ResultBook, mode: str) -> list[_PanelSpec]:
    out = []
    for v in book.pair_verdicts():
        spec = short_spec(v.spec)
        if v.verdict is Verdict.CAUGHT:
            if mode == "full" and v.broken is not None:
                out.append(_PanelSpec(v.broken, f"caught · {v.pair} (broken) · {spec}", "green"))
            continue
        if v.verdict is Verdict.MISSED and v.broken is not None:
            out.append(_PanelSpec(
                v.broken, f"MISSED · {v.pair} (broken) · {spec}", "red",
                "the spec passed on the broken model, so it does not catch this bug; tighten "
                "the threshold or assert on the symptom the bug causes"))
        if v.verdict is Verdict.FALSE_ALARM and v.fixed is not None:
            out.append(_PanelSpec(v.fixed, f"FALSE ALARM · {v.pair} (fixed) · {spec}", "yellow"))
        if v.verdict is Verdict.ERROR:
            for side in (v.broken, v.fixed):
                if side is not None and side.outcome == Outcome.ERROR.value:
                    out.append(_PanelSpec(side, f"ERROR · {v.pair} ({side.variant}) · {spec}",
                                          "magenta"))
    for r in book.specs():
        if r.kind in ("plain", "recipe", "sweep") and not r.expected_failure and r.outcome in (
            Outcome.FAILED.value, Outcome.ERROR.value
        ):
            where = f"{r.group} ({r.variant})" if r.kind == "sweep" else (
                r.label or r.group or r.variant or "")
            style = "red" if r.outcome == Outcome.FAILED.value else "magenta"
            out.append(_PanelSpec(r, f"{r.outcome.upper()} · {short_spec(r.spec)} · {where}",
                                  style))
    return out


def panels(book: ResultBook, mode: str, width: int = 100) -> list[tuple[Panel, Text]]:
    """Each panel and its reproduce line; the diagnosis of a run is shown in its first panel
    and referred to by the others."""
    shown: dict[str, str] = {}
    out = []
    for spec in _panel_specs(book, mode):
        r = spec.result
        key = r.fingerprint or r.nodeid
        diagnosis = None
        if key in shown:
            if r.findings:
                diagnosis = Text(f"diagnosis: as in the panel \"{shown[key]}\" above (same run)",
                                 style="dim")
        else:
            diagnosis = diagnosis_text(r)
            if diagnosis is not None:
                shown[key] = spec.title
        panel = failure_panel(r, spec.title, spec.border, width, diagnosis, spec.message)
        out.append((panel, reproduce_line(r)))
    return out


def reproduce_line(result: SpecResult) -> Text:
    """``reproduce: pytest "<node id>"  (seed 0)``, printed unwrapped so it can be pasted."""
    repro = f"seed {result.seed}" if result.seed is not None else "no run"
    if result.from_cache:
        repro += ", run from the cache"
    return Text(f"  reproduce: pytest \"{result.nodeid}\"  ({repro})", style="dim")


def _plural(n: int, word: str, plural: str | None = None) -> str:
    return f"{n} {word if n == 1 else (plural or word + 's')}"


def summary_line(book: ResultBook) -> Text:
    """One line: pairs caught, verdicts (naming the problems), other specs, collection errors,
    runs; what to do next when something needs attention.

    Example: ``15/15 pairs caught, 33/33 verdicts caught, 30/30 other specs pass, 38 runs: 1
    trained, 37 from the cache``.
    """
    verdicts = book.pair_verdicts()
    counts = {v: sum(1 for x in verdicts if x.verdict is v) for v in Verdict}
    parts: list[tuple[str, str]] = []
    if verdicts:
        pairs = by_pair(verdicts)
        caught_pairs = sum(pair_verdict(items) is Verdict.CAUGHT for items in pairs.values())
        parts.append((f"{caught_pairs}/{len(pairs)} pairs caught",
                      "green" if caught_pairs == len(pairs) else "bold red"))
        text = f"{counts[Verdict.CAUGHT]}/{len(verdicts)} verdicts caught"
        problems = [f"{counts[v]} {VERDICT_STYLE[v][0].split(' ', 1)[1]}" for v in Verdict
                    if v is not Verdict.CAUGHT and counts[v]]
        parts.append((text + (f" ({', '.join(problems)})" if problems else ""),
                      "bold red" if problems else ""))
    others = [r for r in book.specs() if r.kind not in ("pair", "mutant")]
    if others:
        passing = sum(r.outcome == Outcome.PASSED.value for r in others)
        failing = sum(r.outcome in (Outcome.FAILED.value, Outcome.ERROR.value)
                      and not r.expected_failure for r in others)
        parts.append((f"{passing}/{len(others)} other specs pass"
                      + (f" ({failing} failing)" if failing else ""),
                      "bold red" if failing else ""))
    if book.collection_errors:
        parts.append((_plural(len(book.collection_errors), "collection error"), "bold magenta"))
    if book.runs:
        runs = book.run_counts()
        parts.append((f"{_plural(runs['total'], 'run')}: {runs['trained']} trained, "
                      f"{runs['from_cache']} from the cache", ""))
    line = Text()
    for i, (part, style) in enumerate(parts):
        if i:
            line.append(", ")
        line.append(part, style=style)
    if _needs_attention(book):
        line.append(". Fix the specs or models above, then re-run pytest.")
    return line


def _needs_attention(book: ResultBook) -> bool:
    return bool(_panel_specs(book, "problems") or book.collection_errors)


def render(book: ResultBook, mode: str = "summary", width: int = 100,
           color: bool = False) -> str:
    """Render the report to a string (ANSI-coloured when ``color``)."""
    if mode == "off" or (not book.specs() and not book.collection_errors):
        return ""
    buffer = io.StringIO()
    console = Console(file=buffer, width=width, force_terminal=color, color_system="standard"
                      if color else None, no_color=not color, highlight=False)
    console.rule("[bold]trainspec report")
    verdicts = book.pair_verdicts()
    only_problems = mode == "problems"
    if verdicts:
        table = pairs_table(verdicts, width, names_of_catchers=mode == "full",
                            only_problems=only_problems)
        if table is not None:
            console.print(table)
    if not only_problems:
        for table in sweep_tables(book.by_kind("sweep"), width):
            console.print(table)
    plain = [r for r in book.specs() if r.kind in ("plain", "recipe")]
    if plain and mode == "full":
        console.print(plain_table(plain, width))
    if book.by_kind("mutant") and not only_problems:
        from trainspec.plugin.mutation import tables as mutation_tables

        for renderable in mutation_tables(book.by_kind("mutant"), width):
            console.print(renderable)
    for error in book.collection_errors:
        console.print(Panel(Text(error["message"]), title=f"COLLECTION ERROR · {error['nodeid']}",
                            title_align="left", border_style="magenta"))
    for panel, repro in panels(book, mode, width):
        console.print(panel)
        console.print(repro, soft_wrap=True)
    console.print(summary_line(book), soft_wrap=True)
    return buffer.getvalue()
