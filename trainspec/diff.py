"""``trainspec diff A.json B.json``: which runs behave differently between two
``--trainspec-json`` results (a branch and main in CI, say).

Runs are matched by recipe label.  A run whose every recorded series (loss, metrics, per-layer
gradient norms, validation: the ``series`` of each run entry) is equal in both files behaves the
same, even when its fingerprint changed (a refactor of the code); otherwise the report names the
series that differ and the first diverging step.  ``--rtol``/``--atol`` allow float noise.
Exit status: 0 no run changed, 1 some run changed or exists in one file only, 2 usage error.

Example:
    $ pytest --trainspec-json main.json          # on main
    $ pytest --trainspec-json branch.json        # on the branch
    $ trainspec diff main.json branch.json
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from enum import Enum
from pathlib import Path
from typing import Any

from trainspec.baseline import first_divergence


class RunStatus(str, Enum):
    SAME = "same"  # every series equal (within rtol/atol)
    CHANGED = "changed"
    ONLY_A = "only in A"
    ONLY_B = "only in B"

    def __str__(self) -> str:
        return self.value


@dataclass
class SeriesChange:
    """One series that differs: where it first diverges and the values there."""

    series: str
    first_step: int | None
    a: float | None
    b: float | None
    note: str = ""


@dataclass
class RunDiff:
    label: str
    status: RunStatus
    fingerprint_changed: bool = False
    changes: list[SeriesChange] = field(default_factory=list)
    specs: list[str] = field(default_factory=list)
    loss_last: tuple[float | None, float | None] = (None, None)


class DiffError(ValueError):
    """A file that is not a trainspec results document."""


def load_runs(path: str | Path) -> dict[str, dict[str, Any]]:
    """The runs of a ``--trainspec-json`` document by label (with the specs that used them)."""
    try:
        document = json.loads(Path(path).read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise DiffError(f"cannot read {path}: {exc}") from None
    if not isinstance(document, dict) or document.get("schema") != "trainspec-results":
        raise DiffError(f"{path} is not a trainspec results file (write one with "
                        "pytest --trainspec-json PATH)")
    runs: dict[str, dict[str, Any]] = {}
    for result in document.get("results", []):
        for entry in result.get("runs") or []:
            run = runs.setdefault(entry["label"], {**entry, "specs": []})
            if result.get("spec") not in run["specs"]:
                run["specs"].append(result.get("spec"))
    return runs


def compare_runs(a: dict[str, Any], b: dict[str, Any], rtol: float = 0.0,
                 atol: float = 0.0) -> list[SeriesChange]:
    """The series that differ between two run entries (first diverging step per series)."""
    changes = []
    sa, sb = a.get("series"), b.get("series")
    if sa is None or sb is None:  # results written before per-run series: compare summaries
        if a.get("summary") != b.get("summary"):
            changes.append(SeriesChange("summary", None, None, None,
                                        "no per-run series in one file; the summaries differ"))
        return changes
    for name in sorted(set(sa) | set(sb)):
        if name not in sa or name not in sb:
            changes.append(SeriesChange(name, None, None, None,
                                        "only in " + ("B" if name not in sa else "A")))
            continue
        steps_a = (a.get("series_steps") or {}).get(name) or list(range(len(sa[name])))
        i = first_divergence(sa[name], sb[name], rtol, atol)
        if i is None:
            continue
        step = steps_a[i] if i < len(steps_a) else i
        va = sa[name][i] if i < len(sa[name]) else None
        vb = sb[name][i] if i < len(sb[name]) else None
        note = "" if len(sa[name]) == len(sb[name]) else f"{len(sa[name])} vs {len(sb[name])} values"
        changes.append(SeriesChange(name, step, va, vb, note))
    return changes


def diff(path_a: str | Path, path_b: str | Path, rtol: float = 0.0,
         atol: float = 0.0) -> list[RunDiff]:
    """Compare two results files run by run.

    Example:
        >>> from trainspec.diff import diff                       # doctest: +SKIP
        >>> [(d.label, str(d.status)) for d in diff("main.json", "branch.json")]
        [('healthy', 'same'), ('tiny_lr (fixed)', 'changed')]
    """
    runs_a, runs_b = load_runs(path_a), load_runs(path_b)
    out = []
    for label in list(runs_a) + [k for k in runs_b if k not in runs_a]:
        a, b = runs_a.get(label), runs_b.get(label)
        if a is None or b is None:
            present = a or b
            assert present is not None
            out.append(RunDiff(label, RunStatus.ONLY_B if a is None else RunStatus.ONLY_A,
                               specs=present["specs"]))
            continue
        changes = compare_runs(a, b, rtol, atol)
        out.append(RunDiff(label, RunStatus.CHANGED if changes else RunStatus.SAME,
                           fingerprint_changed=a.get("fingerprint") != b.get("fingerprint"),
                           changes=changes, specs=sorted(set(a["specs"]) | set(b["specs"])),
                           loss_last=((a.get("summary") or {}).get("loss_last"),
                                      (b.get("summary") or {}).get("loss_last"))))
    return out


def _num(value: float | None) -> str:
    return "—" if value is None else f"{value:.5g}"


def render(console: Any, diffs: list[RunDiff], path_a: str, path_b: str) -> None:
    """A Rich table of the runs, changed first, and a one-line count."""
    from rich.markup import escape
    from rich.table import Table

    table = Table(title=escape(f"trainspec diff: A = {path_a}, B = {path_b}"), title_justify="left")
    table.add_column("run")
    table.add_column("behaviour")
    table.add_column("series (first diverging step: A → B)")
    table.add_column("final loss A → B", justify="right")
    order = {RunStatus.CHANGED: 0, RunStatus.ONLY_A: 1, RunStatus.ONLY_B: 2, RunStatus.SAME: 3}
    for d in sorted(diffs, key=lambda d: order[d.status]):
        if d.status is RunStatus.SAME:
            status = "[green]same[/]" + (" (code changed)" if d.fingerprint_changed else "")
        elif d.status is RunStatus.CHANGED:
            status = "[red]changed[/]"
        else:
            status = f"[yellow]{d.status}[/]"
        lines = []
        for c in d.changes[:6]:
            if c.first_step is None:
                lines.append(f"{c.series}: {c.note}")
            else:
                lines.append(f"{c.series} @ step {c.first_step}: {_num(c.a)} → {_num(c.b)}"
                             + (f" ({c.note})" if c.note else ""))
        if len(d.changes) > 6:
            lines.append(f"… and {len(d.changes) - 6} more series")
        loss = "" if d.status in (RunStatus.ONLY_A, RunStatus.ONLY_B) else \
            f"{_num(d.loss_last[0])} → {_num(d.loss_last[1])}"
        table.add_row(escape(d.label), status, escape("\n".join(lines)), loss)
    console.print(table)
    counts = {s: sum(d.status is s for d in diffs) for s in RunStatus}
    console.print(f"{len(diffs)} runs: {counts[RunStatus.SAME]} same, "
                  f"{counts[RunStatus.CHANGED]} changed, {counts[RunStatus.ONLY_A]} only in A, "
                  f"{counts[RunStatus.ONLY_B]} only in B")


def run_cli(args: Any, console: Any) -> int:
    """``trainspec diff`` (called by :mod:`trainspec.cli`)."""
    try:
        diffs = diff(args.a, args.b, args.rtol, args.atol)
    except DiffError as exc:
        console.print(f"trainspec diff: error: {exc}", style="bold red")
        return 2
    render(console, diffs, args.a, args.b)
    return 0 if all(d.status is RunStatus.SAME for d in diffs) else 1
