"""Benchmark rows, and their Rich table, Markdown table, JSON document and README section."""

from __future__ import annotations

import datetime as dt
import json
import os
import platform
import re
import time
from dataclasses import asdict, dataclass
from importlib import metadata
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.table import Table

SCHEMA = "trainspec-benchmarks"
VERSION = 1
START = "<!-- benchmarks:start -->"
END = "<!-- benchmarks:end -->"


@dataclass
class Row:
    """One figure: a measurement, the baseline measured in the same run, and their ratio."""

    id: str  # stable key: rows of two runs are compared by it
    figure: int
    what: str
    measured: str
    baseline: str
    ratio: float | None = None
    target: float | None = None  # the ratio must be <= target
    note: str = ""

    @property
    def meets(self) -> bool | None:
        if self.ratio is None or self.target is None:
            return None
        return self.ratio <= self.target


def seconds(value: float) -> str:
    return f"{value * 1000:.0f} ms" if value < 1 else f"{value:.2f} s" if value < 100 else f"{value:.0f} s"


def per_step(value: float) -> str:
    return f"{value * 1000:.3f} ms/step"


def megabytes(value: float) -> str:
    return f"{value:.0f} MB"


def ratio_text(row: Row) -> str:
    return "—" if row.ratio is None else f"{row.ratio:.2f}x"


def target_text(row: Row) -> str:
    return "—" if row.target is None else f"<= {row.target:.3g}x"


def verdict_text(row: Row) -> str:
    return {True: "yes", False: "no", None: ""}[row.meets]


# -- machine -----------------------------------------------------------------------------------


def _version(name: str) -> str | None:
    try:
        return metadata.version(name)
    except metadata.PackageNotFoundError:
        return None


def _cpu_model() -> str | None:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or None


def machine() -> dict[str, Any]:
    return {
        "cpu_count": os.cpu_count(),
        "cpu": _cpu_model(),
        "platform": platform.platform(),
        "python": platform.python_version(),
        "tensorflow": _version("tensorflow") or _version("tensorflow-cpu"),
        "keras": _version("keras"),
        "trainspec": _version("trainspec"),
        "numpy": _version("numpy"),
        "pytest": _version("pytest"),
        "pytest-xdist": _version("pytest-xdist"),
    }


def load() -> list[float] | None:
    try:
        return [round(v, 2) for v in os.getloadavg()]
    except OSError:
        return None


def machine_line(doc: dict[str, Any]) -> str:
    m = doc["machine"]
    mode = "quick mode, " if doc.get("quick") else ""
    load_text = ""
    if doc.get("load_before") is not None:
        load_text = f", load average {doc['load_before'][0]:.2f} before / {doc['load_after'][0]:.2f} after"
    line = (
        f"{doc['created'][:16].replace('T', ' ')} UTC, {mode}{m['cpu_count']} CPUs ({m['cpu']}), "
        f"{m['platform']}, Python {m['python']}, TensorFlow {m['tensorflow']}, Keras {m['keras']}, "
        f"trainspec {m['trainspec']}{load_text}; the whole script took {seconds(doc['duration'])}."
    )
    if doc.get("note"):
        line += f" {doc['note']}"
    return line


# -- documents ---------------------------------------------------------------------------------


def document(rows: list[Row], details: dict[str, Any], *, quick: bool, note: str,
             load_before: list[float] | None, duration: float) -> dict[str, Any]:
    return {
        "schema": SCHEMA,
        "version": VERSION,
        "created": dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds"),
        "quick": quick,
        "note": note,
        "machine": machine(),
        "load_before": load_before,
        "load_after": load(),
        "duration": duration,
        "rows": [dict(asdict(r), meets=r.meets) for r in rows],
        "details": details,
    }


def read_previous(path: Path) -> dict[str, float | None]:
    """Ratios by row id from an earlier results file (empty when absent or unreadable)."""
    try:
        doc = json.loads(path.read_text())
    except (OSError, ValueError):
        return {}
    if doc.get("schema") != SCHEMA:
        return {}
    return {row["id"]: row.get("ratio") for row in doc.get("rows", [])}


def kept_rows(path: Path, figures: set[int]) -> tuple[list[Row], dict[str, Any]]:
    """The rows of ``figures`` from an earlier results file, each note saying from which run
    (``--keep``: figures not re-measured stay in the table), and that file's details."""
    try:
        doc = json.loads(path.read_text())
    except (OSError, ValueError):
        return [], {}
    if doc.get("schema") != SCHEMA:
        return [], {}
    prefix = f"from the {str(doc.get('created', '?'))[:10]} run (not re-measured here): "
    rows = []
    for row in doc.get("rows", []):
        if row.get("figure") in figures:
            fields = {k: v for k, v in row.items() if k != "meets"}
            if not fields.get("note", "").startswith("from the "):
                fields["note"] = prefix + fields.get("note", "")
            rows.append(Row(**fields))
    return rows, doc.get("details", {})


def write_json(doc: dict[str, Any], path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(path.suffix + ".tmp")
    tmp.write_text(json.dumps(doc, indent=2, default=_jsonable) + "\n")
    tmp.replace(path)


def save_profile(path: Path, results: list[Any], load_before: list[float] | None,
                 **extra: Any) -> None:
    """Write a profile's ``results`` with when it ran and the load around it (op_profile,
    probe_cost), and say so.

    Example:
        >>> save_profile(Path("benchmarks/op_profile.json"), results, load())  # doctest: +SKIP
    """
    doc = {"created": time.strftime("%Y-%m-%dT%H:%M:%S%z"), "load_before": load_before,
           "load_after": load(), **extra, "results": results}
    write_json(doc, path)
    print(f"\nload average {load_before} before, {doc['load_after']} after; wrote {path}")


def _jsonable(value: Any) -> Any:
    if hasattr(value, "item"):
        return value.item()
    raise TypeError(f"not JSON-serialisable: {type(value).__name__}")


# -- tables ------------------------------------------------------------------------------------


def rich_table(rows: list[Row], previous: dict[str, float | None]) -> Table:
    table = Table(title="trainspec benchmarks (ratio = measured / baseline, same run)",
                  title_justify="left")
    for name, justify in (("#", "right"), ("figure", "left"), ("measured", "right"),
                          ("baseline", "right"), ("ratio", "right"), ("target", "right"),
                          ("meets", "center")):
        table.add_column(name, justify=justify)  # type: ignore[arg-type]
    if previous:
        table.add_column("previous", justify="right")
    for row in rows:
        style = {True: "green", False: "red", None: ""}[row.meets]
        ratio = f"[{style}]{ratio_text(row)}[/]" if style else ratio_text(row)
        meets = f"[{style}]{verdict_text(row)}[/]" if style else ""
        cells = [str(row.figure), row.what, row.measured, row.baseline, ratio, target_text(row), meets]
        if previous:
            old = previous.get(row.id)
            cells.append("" if old is None else f"{old:.2f}x")
        table.add_row(*cells)
    return table


def markdown(rows: list[Row], doc: dict[str, Any]) -> str:
    lines = [
        "| # | figure | measured | baseline (same run) | ratio | target | meets |",
        "|---|---|---|---|---|---|---|",
    ]
    for row in rows:
        lines.append(
            f"| {row.figure} | {row.what} | {row.measured} | {row.baseline} | {ratio_text(row)} | "
            f"{target_text(row)} | {verdict_text(row)} |"
        )
    lines.append("")
    lines += [f"- {row.figure}. {row.what}: {row.note}" for row in rows if row.note]
    return "\n".join(lines) + "\n\n" + machine_line(doc) + "\n"


def rewrite_readme(readme: Path, text: str) -> None:
    """Replace what lies between the benchmark markers of ``readme`` with ``text``."""
    source = readme.read_text()
    pattern = re.compile(re.escape(START) + r".*?" + re.escape(END), re.DOTALL)
    if not pattern.search(source):
        raise SystemExit(f"{readme} has no '{START}' ... '{END}' markers: add them where the "
                         "table belongs")
    readme.write_text(pattern.sub(lambda _: f"{START}\n{text}{END}", source, count=1))


def print_rows(console: Console, rows: list[Row], previous: dict[str, float | None]) -> None:
    """The table, then what each row measured exactly."""
    console.print(rich_table(rows, previous))
    for row in rows:
        if row.note:
            console.print(f"  {row.figure}. [bold]{row.what}[/]: {row.note}", highlight=False)
