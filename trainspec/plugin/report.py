"""The Rich report shown at the end of a pytest session.

A matrix of pairs x specs with verdicts (a list naming the catching specs when the matrix would
not fit the terminal), a table per sweep, the plain specs, then one panel per
failure: what was measured and required, where, the curve, and the likely cause and fix.
"""

from __future__ import annotations

import io
from collections import OrderedDict
from typing import Any

from rich import box
from rich.console import Console, Group
from rich.panel import Panel
from rich.table import Table
from rich.text import Text

from trainspec.constants import Outcome, Verdict
from trainspec.plugin.names import short_spec, spec_names
from trainspec.plugin.results import PairVerdict, ResultBook, SpecResult
from trainspec.sparkline import sparkline

_VERDICT_STYLE = {
    Verdict.CAUGHT: ("✔ caught", "green"),
    Verdict.MISSED: ("✘ missed", "bold red"),
    Verdict.FALSE_ALARM: ("⚠ false alarm", "bold yellow"),
    Verdict.ERROR: ("! error", "bold magenta"),
    Verdict.INCOMPLETE: ("· incomplete", "dim"),
}
_OUTCOME_STYLE = {
    Outcome.PASSED.value: ("passed", "green"),
    Outcome.FAILED.value: ("failed", "bold red"),
    Outcome.ERROR.value: ("error", "bold magenta"),
    Outcome.SKIPPED.value: ("skipped", "dim"),
}


def _pair_label(pair: str, verdicts: list[PairVerdict]) -> str:
    """The pair's name, with the course's name for it when the pair has an alias."""
    for v in verdicts:
        for side in (v.broken, v.fixed):
            if v.pair == pair and side is not None and side.alias:
                return f"{pair} ({side.alias})"
    return pair


def pair_matrix(verdicts: list[PairVerdict]) -> Table:
    """Pairs down, specs across, a verdict in each applied cell (for a few specs)."""
    specs = list(OrderedDict.fromkeys(v.spec for v in verdicts))
    pairs = list(OrderedDict.fromkeys(v.pair for v in verdicts))
    names = spec_names(specs)
    cell = {(v.pair, v.spec): v.verdict for v in verdicts}
    table = Table(title="Broken/fixed pairs x specs", box=box.SIMPLE_HEAVY, title_justify="left")
    table.add_column("pair", style="bold", no_wrap=True)
    for spec in specs:
        table.add_column(names[spec], justify="center", overflow="fold")
    table.add_column("caught by", justify="right", no_wrap=True)
    for pair in pairs:
        row: list[Any] = [_pair_label(pair, verdicts)]
        caught = 0
        applied = 0
        for spec in specs:
            verdict = cell.get((pair, spec))
            if verdict is None:
                row.append(Text("", style="dim"))
                continue
            applied += 1
            caught += verdict is Verdict.CAUGHT
            label, style = _VERDICT_STYLE[verdict]
            row.append(Text(label, style=style))
        row.append(Text(f"{caught}/{applied}", style="green" if caught else "bold red"))
        table.add_row(*row)
    return table


def pair_list(verdicts: list[PairVerdict]) -> Table:
    """One row per pair naming the specs that catch it and any that miss, raise a false alarm
    or error: readable however many specs there are."""
    pairs: dict[str, list[PairVerdict]] = OrderedDict()
    for v in verdicts:
        pairs.setdefault(v.pair, []).append(v)
    names = spec_names(list(OrderedDict.fromkeys(v.spec for v in verdicts)))
    table = Table(title="Broken/fixed pairs", box=box.SIMPLE_HEAVY, title_justify="left")
    problems = any(v.verdict is not Verdict.CAUGHT for v in verdicts)
    table.add_column("pair", style="bold", no_wrap=True)
    table.add_column("verdict", no_wrap=True)
    table.add_column("caught by", style="green", overflow="fold")
    if problems:
        table.add_column("not caught by", overflow="fold")
    for pair, items in pairs.items():
        caught = [names[v.spec] for v in items if v.verdict is Verdict.CAUGHT]
        others = Text()
        for v in items:
            if v.verdict is Verdict.CAUGHT:
                continue
            label, style = _VERDICT_STYLE[v.verdict]
            if others:
                others.append(", ")
            others.append(f"{names[v.spec]} ({label.split(' ', 1)[1]})", style=style)
        worst = _pair_verdict(items)
        label, style = _VERDICT_STYLE[worst]
        verdict = Text(f"{label.split(' ', 1)[0]} {len(caught)}/{len(items)}", style=style)
        row: list[Any] = [_pair_label(pair, items), verdict, ", ".join(caught) or "—"]
        if problems:
            row.append(others or Text("—", style="dim"))
        table.add_row(*row)
    return table


def _pair_verdict(items: list[PairVerdict]) -> Verdict:
    """A pair is caught when some spec catches it and no spec errs or fails its fixed model."""
    found = {v.verdict for v in items}
    for bad in (Verdict.ERROR, Verdict.FALSE_ALARM):
        if bad in found:
            return bad
    if Verdict.CAUGHT in found:
        return Verdict.CAUGHT
    return Verdict.MISSED if Verdict.MISSED in found else Verdict.INCOMPLETE


def _matrix_width(verdicts: list[PairVerdict]) -> int:
    specs = list(OrderedDict.fromkeys(v.spec for v in verdicts))
    pair_width = max(len(_pair_label(v.pair, [v])) for v in verdicts)
    cells = sum(max(len(name), 14) + 3 for name in spec_names(specs).values())
    return pair_width + cells + 16


def pairs_table(verdicts: list[PairVerdict], width: int) -> Table:
    """The matrix when it fits the terminal, else the list."""
    return pair_matrix(verdicts) if _matrix_width(verdicts) <= width else pair_list(verdicts)


def sweep_tables(results: list[SpecResult], width: int = 100) -> list[Table]:
    """One table per sweep: a row per point with its run's numbers and the specs' outcomes (and
    the loss curve when the terminal has room)."""
    with_curve = width >= 100
    tables = []
    groups: dict[str, list[SpecResult]] = OrderedDict()
    for r in results:
        groups.setdefault(r.group or "", []).append(r)
    for sweep, items in groups.items():
        specs = list(OrderedDict.fromkeys(r.spec for r in items))
        names = spec_names(specs)
        metric_keys = list(
            OrderedDict.fromkeys(
                k for r in items for k in ((r.summary or {}).get("metrics_last") or {})
            )
        )
        val_keys = list(
            OrderedDict.fromkeys(k for r in items for k in ((r.summary or {}).get("val") or {}))
        )
        labels = [r.variant or "" for r in items]
        prefix = labels[0].split("=", 1)[0] + "=" if "=" in labels[0] else ""
        if not prefix or not all(label.startswith(prefix) for label in labels):
            prefix = ""  # points "over=value" of one setting show just the value
        title = f"Sweep {sweep}" + (f" (over {prefix[:-1]})" if prefix else "")
        table = Table(title=title, box=box.SIMPLE_HEAVY, title_justify="left", pad_edge=False)
        table.add_column(prefix[:-1] if prefix else "point", style="bold", no_wrap=True)
        table.add_column("loss", justify="right", no_wrap=True)
        if with_curve:
            table.add_column("curve", no_wrap=True)
        for key in metric_keys + val_keys:
            table.add_column(key, justify="right", no_wrap=True)
        table.add_column("specs", no_wrap=True)
        points: dict[str, dict[str, SpecResult]] = OrderedDict()
        for r in items:
            points.setdefault(r.variant or "", {})[r.spec] = r
        for point, by_spec in points.items():
            any_result = next(iter(by_spec.values()))
            summary = any_result.summary or {}
            row: list[Any] = [point.removeprefix(prefix), _loss_span(summary, compact=True)]
            if with_curve:
                row.append(Text(sparkline(_curve(any_result.loss_curve), 12), style="cyan"))
            for key in metric_keys:
                row.append(_num((summary.get("metrics_last") or {}).get(key)))
            for key in val_keys:
                row.append(_num((summary.get("val") or {}).get(key)))
            row.append(_spec_outcomes([by_spec[s] for s in specs if s in by_spec], names))
            table.add_row(*row)
        tables.append(table)
    return tables


def _spec_outcomes(results: list[SpecResult], names: dict[str, str]) -> Text:
    """``✔ 2/2 passed``, or the specs that did not pass with their outcome."""
    passed = sum(r.outcome == Outcome.PASSED.value for r in results)
    if passed == len(results):
        return Text(f"✔ {passed}/{len(results)}", style="green")
    text = Text(f"{passed}/{len(results)} passed; ")
    bad = [r for r in results if r.outcome != Outcome.PASSED.value]
    for i, r in enumerate(bad):
        label, style = _OUTCOME_STYLE.get(r.outcome, (r.outcome, ""))
        text.append(f"{names[r.spec]} {label}", style=style)
        if i < len(bad) - 1:
            text.append(", ")
    return text


def _loss_span(summary: dict[str, Any], compact: bool = False) -> str:
    first, last = summary.get("loss_first"), summary.get("loss_last")
    if first is None and last is None:
        return "—"
    text = f"{_num(first, 3)}→{_num(last, 3)}" if compact else f"{_num(first)} → {_num(last)}"
    if summary.get("nonfinite"):
        text += f" (NaN at {summary['nonfinite']['step']})"
    return text


def _num(value: Any, digits: int = 4) -> str:
    if value is None:
        return "—"
    if isinstance(value, float):
        return f"{value:.{digits}g}"
    return str(value)


def _curve(points: list[float | None] | None) -> list[float]:
    return [float("nan") if p is None else p for p in (points or [])]


def plain_table(results: list[SpecResult]) -> Table:
    table = Table(title="Specs on recipes", box=box.SIMPLE_HEAVY, title_justify="left")
    table.add_column("spec", style="bold")
    table.add_column("run")
    table.add_column("outcome", justify="center")
    table.add_column("loss")
    for r in results:
        label, style = _OUTCOME_STYLE.get(r.outcome, (r.outcome, ""))
        run = (r.label or r.group or "—") + (" (cached)" if r.from_cache else "")
        table.add_row(short_spec(r.spec), run, Text(label, style=style),
                      Text(sparkline(_curve(r.loss_curve), 20), style="cyan"))
    return table


def failure_panel(result: SpecResult, title: str, border: str) -> Panel:
    """A failure explained: message, numbers, curve, likely cause and fix, how to reproduce."""
    parts: list[Any] = []
    if result.message:
        parts.append(Text(result.message.strip()))
    details = result.details or {}
    curve = details.get("curve") or result.loss_curve
    curve_name = details.get("curve_name") or ("loss" if result.loss_curve else None)
    if curve:
        line = Text(f"{curve_name or 'curve'}: ", style="bold")
        line.append(sparkline(_curve(curve), 60), style="cyan")
        parts.append(line)
    summary = result.summary or {}
    if summary:
        facts = [f"loss {_loss_span(summary)}"]
        for key, value in (summary.get("metrics_last") or {}).items():
            facts.append(f"{key} {_num(value)}")
        for key, value in (summary.get("val") or {}).items():
            facts.append(f"{key} {_num(value)}")
        parts.append(Text(" · ".join(facts), style="dim"))
    if result.cause or result.fix:
        cause = Text("likely cause: ", style="bold")
        cause.append(result.cause or "—")
        parts.append(cause)
        if result.fix:
            fix = Text("fix: ", style="bold")
            fix.append(result.fix)
            parts.append(fix)
    for finding in result.findings[:3]:
        text = Text(f"diagnosis: {finding.get('symptom')}", style="bold")
        where = finding.get("where")
        if where:
            text.append(f" ({where})")
        if finding.get("explanation"):
            text.append(f": {finding['explanation']}", style="")
        if finding.get("fixes"):
            text.append(f" Fix: {finding['fixes'][0]}", style="italic")
        parts.append(text)
    repro = f"seed {result.seed}" if result.seed is not None else "no run"
    if result.from_cache:
        repro += ", run from the cache"
    parts.append(Text(f"reproduce: pytest \"{result.nodeid}\"  ({repro})", style="dim"))
    return Panel(Group(*parts), title=title, title_align="left", border_style=border)


def panels(book: ResultBook, mode: str) -> list[Panel]:
    out = []
    for v in book.pair_verdicts():
        spec = short_spec(v.spec)
        if v.verdict is Verdict.CAUGHT:
            if mode == "full" and v.broken is not None:
                out.append(failure_panel(v.broken, f"caught · {v.pair} (broken) · {spec}", "green"))
            continue
        if v.verdict is Verdict.MISSED and v.broken is not None:
            missed = v.broken
            missed_msg = (
                "the spec passed on the broken model, so it does not catch this bug; tighten "
                "the threshold or assert on the symptom the bug causes"
            )
            panel_result = SpecResult(**{**missed.to_json(), "message": missed_msg})
            out.append(failure_panel(panel_result, f"MISSED · {v.pair} (broken) · {spec}", "red"))
        if v.verdict is Verdict.FALSE_ALARM and v.fixed is not None:
            out.append(failure_panel(v.fixed, f"FALSE ALARM · {v.pair} (fixed) · {spec}", "yellow"))
        if v.verdict is Verdict.ERROR:
            for side in (v.broken, v.fixed):
                if side is not None and side.outcome == Outcome.ERROR.value:
                    out.append(failure_panel(side, f"ERROR · {v.pair} ({side.variant}) · {spec}",
                                             "magenta"))
    for r in book.results:
        if r.kind in ("plain", "recipe", "sweep") and r.outcome in (
            Outcome.FAILED.value, Outcome.ERROR.value
        ):
            where = f"{r.group} ({r.variant})" if r.kind == "sweep" else (
                r.label or r.group or r.variant or "")
            style = "red" if r.outcome == Outcome.FAILED.value else "magenta"
            out.append(failure_panel(r, f"{r.outcome.upper()} · {short_spec(r.spec)} · {where}", style))
    return out


def summary_line(book: ResultBook) -> Text:
    verdicts = book.pair_verdicts()
    counts = {v: sum(1 for x in verdicts if x.verdict is v) for v in Verdict}
    text = Text()
    if verdicts:
        text.append(f"{len(verdicts)} spec×pair verdict{'s' if len(verdicts) != 1 else ''}: ")
        parts = []
        for verdict in Verdict:
            if counts[verdict]:
                label, style = _VERDICT_STYLE[verdict]
                parts.append((f"{counts[verdict]} {label.split(' ', 1)[1]}", style))
        for i, (label, style) in enumerate(parts):
            text.append(label, style=style)
            if i < len(parts) - 1:
                text.append(", ")
    others = [r for r in book.results if r.kind not in ("pair", "mutant")]
    if others:
        failed = sum(r.outcome in (Outcome.FAILED.value, Outcome.ERROR.value) for r in others)
        text.append(f"{'; ' if verdicts else ''}{len(others)} other spec run(s), {failed} failing")
    if book.collection_errors:
        n = len(book.collection_errors)
        text.append(f"{'; ' if text.plain else ''}{n} collection error{'s' if n != 1 else ''}",
                    style="bold magenta")
    if book.runs:
        runs = book.run_counts()
        text.append(f"{'; ' if text.plain else ''}{runs['total']} run{'s' if runs['total'] != 1 else ''}"
                    f": {runs['trained']} trained, {runs['from_cache']} from the cache")
    if counts[Verdict.MISSED] or counts[Verdict.FALSE_ALARM]:
        text.append(". Fix the specs or models above, then re-run pytest.")
    return text


def render(book: ResultBook, mode: str = "full", width: int = 100, color: bool = False) -> str:
    """Render the report to a string (ANSI-coloured when ``color``)."""
    if mode == "off" or (not book.results and not book.collection_errors):
        return ""
    buffer = io.StringIO()
    console = Console(file=buffer, width=width, force_terminal=color, color_system="standard"
                      if color else None, no_color=not color, highlight=False)
    console.rule("[bold]trainspec report")
    verdicts = book.pair_verdicts()
    if verdicts:
        console.print(pairs_table(verdicts, width))
    for table in sweep_tables(book.by_kind("sweep"), width):
        console.print(table)
    plain = book.by_kind("plain") + book.by_kind("recipe")
    if plain:
        console.print(plain_table(plain))
    if book.by_kind("mutant"):
        from trainspec.plugin.mutation import tables as mutation_tables

        for renderable in mutation_tables(book.by_kind("mutant"), width):
            console.print(renderable)
    for error in book.collection_errors:
        console.print(Panel(Text(error["message"]), title=f"COLLECTION ERROR · {error['nodeid']}",
                            title_align="left", border_style="magenta"))
    for panel in panels(book, mode):
        console.print(panel)
    console.print(summary_line(book))
    return buffer.getvalue()
