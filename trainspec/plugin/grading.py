"""Grades: what each test is worth, what it did, and the Gradescope ``results.json``.

Points and visibility come from the ``trainspec`` marker (``@pytest.mark.trainspec(points=2,
hidden=True)``; one point and visible by default).  A :class:`GradeRecord` is built where the
test ran (a pytest-xdist worker, possibly) and travels to the controller in the test report's
``user_properties``, as the spec results do.
"""

from __future__ import annotations

import inspect
import json
import math
import textwrap
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import pytest

from trainspec.environment import json_safe, write_atomic

PROPERTY = "trainspec_grade"
#: Gradescope's visibility values (https://gradescope-autograders.readthedocs.io).
VISIBILITIES = ("visible", "hidden", "after_due_date", "after_published")


@dataclass
class GradeRecord:
    """One test's grade: which exercise, its points, what happened, the student's message."""

    nodeid: str
    exercise: str
    spec: str
    points: float
    visibility: str
    outcome: str  # passed, failed, error or skipped
    exercise_index: int | None = None
    message: str | None = None
    what: str | None = None
    measured: Any = None
    required: str | None = None
    where: str | None = None
    curve_name: str | None = None
    curve: list[float | None] | None = None
    doctor: dict[str, Any] | None = None
    source: str | None = None
    duration: float | None = None
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def hidden(self) -> bool:
        return self.visibility != "visible"

    @property
    def passed(self) -> bool:
        return self.outcome == "passed"

    @property
    def score(self) -> float:
        return self.points if self.passed else 0.0

    def to_json(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> GradeRecord:
        known = set(cls.__dataclass_fields__)
        return cls(**{k: v for k, v in data.items() if k in known})


def marker_settings(item: pytest.Item) -> tuple[float, str]:
    """``(points, visibility)`` from the closest ``trainspec`` markers that set them.

    Raises ``pytest.UsageError`` naming the spec for a bad value.
    """
    points: Any = None
    hidden: Any = None
    visibility: Any = None
    for marker in item.iter_markers("trainspec"):  # closest first
        if points is None and "points" in marker.kwargs:
            points = marker.kwargs["points"]
        if hidden is None and "hidden" in marker.kwargs:
            hidden = marker.kwargs["hidden"]
        if visibility is None and "visibility" in marker.kwargs:
            visibility = marker.kwargs["visibility"]
    if points is None:
        points = 1
    if isinstance(points, bool) or not isinstance(points, (int, float)) or not (
        math.isfinite(points) and points >= 0
    ):
        raise pytest.UsageError(
            f"{item.nodeid}: @pytest.mark.trainspec(points=...) must be a number >= 0, "
            f"got {points!r}"
        )
    if hidden is not None and not isinstance(hidden, bool):
        raise pytest.UsageError(
            f"{item.nodeid}: @pytest.mark.trainspec(hidden=...) must be True or False, "
            f"got {hidden!r}"
        )
    if visibility is None:
        visibility = "hidden" if hidden else "visible"
    if visibility not in VISIBILITIES:
        raise pytest.UsageError(
            f"{item.nodeid}: @pytest.mark.trainspec(visibility=...) must be one of "
            f"{', '.join(VISIBILITIES)}, got {visibility!r}"
        )
    return float(points), visibility


def spec_source(item: pytest.Item) -> str | None:
    """The test function's own code (shown to the student with the failure)."""
    fn = getattr(item, "function", None)
    try:
        return textwrap.dedent(inspect.getsource(fn)).rstrip() if fn is not None else None
    except (OSError, TypeError):
        return None


# -- the Gradescope document -----------------------------------------------------------------


def gradescope(records: list[GradeRecord], output: str, execution_time: float | None) -> dict:
    """The ``results.json`` document: the total ``score`` and one entry per test, each with
    its ``name``, ``score``, ``max_score``, explicit ``status``, markdown ``output`` and
    ``visibility``."""
    tests = []
    numbers: dict[str, int] = {}
    for r in records:
        numbers[r.exercise] = numbers.get(r.exercise, 0) + 1
        prefix = f"{r.exercise_index}." if r.exercise_index is not None else ""
        tests.append({
            "name": f"{r.exercise} › {r.spec}",
            "number": f"{prefix}{numbers[r.exercise]}",
            "score": r.score,
            "max_score": r.points,
            "status": "passed" if r.passed else "failed",
            "output": markdown(r),
            "output_format": "md",
            "visibility": r.visibility,
        })
    document: dict[str, Any] = {
        "score": sum(r.score for r in records),
        "output": output,
        "output_format": "md",
        "visibility": "visible",
        "stdout_visibility": "hidden",
        "tests": tests,
    }
    if execution_time is not None:
        document["execution_time"] = round(execution_time, 3)
    return document


def markdown(record: GradeRecord) -> str:
    """The student-facing message of one test, in markdown."""
    if record.passed:
        return "Passed."
    if record.outcome == "skipped":
        return f"Skipped: {record.message or 'no reason given'}. It earns no points."
    lines = [("**Error**: " if record.outcome == "error" else "**Failed**: ") + headline(record)]
    if record.curve:
        from trainspec.sparkline import sparkline

        curve = [math.nan if v is None else v for v in record.curve]
        lines.append(f"`{record.curve_name or 'loss'} {sparkline(curve, 40)}`")
    if record.doctor:
        lines.append(f"What the doctor sees: {record.doctor['text']}")
    hint = record.extra.get("hint")
    if hint:
        lines.append(f"Hint: {hint}")
    return "\n\n".join(lines)


def headline(record: GradeRecord) -> str:
    """What was measured against what was required, in one sentence when the spec said so."""
    if record.what and record.required is not None:
        text = f"{record.what}: measured {_fmt(record.measured)}, required {record.required}"
        return text + (f" (at {record.where})" if record.where else "")
    message = (record.message or "the spec failed").strip()
    return message.splitlines()[0] if message else "the spec failed"


def _fmt(value: Any) -> str:
    if isinstance(value, float):
        return f"{value:.4g}"
    return "n/a" if value is None else str(value)


def write(path: Path, document: dict) -> None:
    """Write ``results.json`` atomically (NaN/Inf have no JSON form: they become null)."""
    write_atomic(path, json.dumps(json_safe(document), indent=2, allow_nan=False) + "\n")

