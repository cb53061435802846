"""What a check found: the series outside their tolerance (:class:`Mismatch`), the summary
figures outside their bands (:class:`FigureMismatch`), and the whole outcome
(:class:`Comparison`) with a message in the style of pytest-regressions: per series the first
step outside, by how much, how many steps, and the band and the run as sparklines.

Example:
    >>> from trainspec.baseline import first_divergence
    >>> first_divergence([1.0, 2.0, 3.0], [1.0, 2.5, 3.0])
    1
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from trainspec.baseline.format import Mode, versions
from trainspec.sparkline import sparkline

#: Width of the sparklines in a message.
_SPARK = 40


@dataclass
class Mismatch:
    """One series outside its tolerance: where it first left, by how much, how often."""

    series: str
    kind: str  # "envelope", "exact", "close", "length", "missing" or "structure"
    steps: np.ndarray | None = None
    run: np.ndarray | None = None
    lo: np.ndarray | None = None
    hi: np.ndarray | None = None
    outside: int = 0
    allowed: int = 0
    first: int = 0
    by: float = 0.0
    side: str = ""
    worst: float = 0.0
    worst_rel: float = 0.0
    note: str = ""

    @property
    def first_step(self) -> int | None:
        return int(self.steps[self.first]) if self.steps is not None and len(self.steps) else None

    def describe(self) -> list[str]:
        if self.kind in ("missing", "length", "structure"):
            return [f"{self.series}: {self.note}"]
        assert self.steps is not None and self.run is not None
        assert self.lo is not None and self.hi is not None
        n, i = len(self.run), self.first
        value = self.run[i]
        if self.kind == "envelope":
            lines = [
                f"{self.series}: {self.outside} of {n} steps outside the band (budget "
                f"{self.allowed}); first at step {self.first_step}: {value:.5g} is {self.side} "
                f"[{self.lo[i]:.5g}, {self.hi[i]:.5g}] by {self.by:.3g} (worst {self.worst:.3g})",
            ]
            lo, hi = self.lo, self.hi
            joint = np.concatenate([lo, hi, self.run[np.isfinite(self.run)]])
            lines += [f"    band hi  {_spark(hi, joint)}", f"    run      {_spark(self.run, joint)}",
                      f"    band lo  {_spark(lo, joint)}"]
            return lines
        share = f"{self.outside / n:.0%}"
        lines = [
            f"{self.series}: {self.outside} of {n} values differ ({share}); first at step "
            f"{self.first_step}: {value!r} vs baseline {self.lo[i]!r} (|diff| {self.by:.3g}); "
            f"largest |diff| {self.worst:.3g}, largest relative {self.worst_rel:.3g}",
        ]
        joint = np.concatenate([self.lo, self.run[np.isfinite(self.run)]])
        lines += [f"    baseline {_spark(self.lo, joint)}", f"    run      {_spark(self.run, joint)}"]
        return lines

    def to_json(self) -> dict[str, Any]:
        return {"series": self.series, "kind": self.kind, "first_step": self.first_step,
                "outside": self.outside, "allowed": self.allowed,
                "by": self.by if math.isfinite(self.by) else None, "note": self.note or None}


@dataclass
class FigureMismatch:
    """A summary figure outside its band."""

    name: str
    value: float
    lo: float
    hi: float
    seeds: list[float]

    def describe(self) -> str:
        return (f"{self.name}: {self.value:.5g} outside [{self.lo:.5g}, {self.hi:.5g}] (seeds: "
                + ", ".join(f"{v:.4g}" for v in self.seeds if v is not None) + ")")


@dataclass
class Comparison:
    """The outcome of :meth:`Baseline.check`: ``ok``, the series ``mismatches`` and the summary
    ``figures`` outside their bands, and :meth:`message` for a failure."""

    baseline: Any  # the trajectory.Baseline checked (not imported: it imports this module)
    run: Any
    margin: float
    budget: float
    rtol: float
    atol: float
    mismatches: list[Mismatch] = field(default_factory=list)
    figures: list[FigureMismatch] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.mismatches and not self.figures

    def tolerance(self) -> str:
        b = self.baseline
        if b.mode is Mode.ENVELOPE:
            return (f"seed envelope of {len(b.seeds)} seeds {b.seeds}, smoothing {b.smoothing} "
                    f"steps, margin {self.margin:g}, budget {self.budget:.0%} of steps")
        if b.mode is Mode.EXACT:
            return "exact (bitwise)"
        return f"close (rtol {self.rtol:g}, atol {self.atol:g})"

    def message(self, accept: str | None = None) -> str:
        """What differs, in the style of pytest-regressions: per series the first step
        outside, by how much, how many steps, the band and the run as sparklines; then the
        command that accepts the new behaviour."""
        b = self.baseline
        n_series = len(self.mismatches)
        head = (f"the run of {self.run.label!r} (seed {self.run.seed}) left its baseline: "
                f"{n_series} series" + (f" and {len(self.figures)} summary figures"
                                        if self.figures else "")
                + f" outside the tolerance ({self.tolerance()})")
        lines = [head]
        for m in self.mismatches:
            lines += ["  " + line for line in m.describe()]
        for f in self.figures:
            lines.append("  " + f.describe())
        if b.mode is Mode.EXACT and b.environment and b.environment != versions():
            lines.append("  note: recorded with other versions or on another platform "
                         f"({b.environment}); exact equality holds only on one")
        if accept:
            lines.append(f"  accept the new behaviour: {accept}")
        return "\n".join(lines)

    def to_json(self) -> dict[str, Any]:
        return {"ok": self.ok, "tolerance": self.tolerance(),
                "mismatches": [m.to_json() for m in self.mismatches],
                "figures": [{"name": f.name, "value": f.value, "lo": f.lo, "hi": f.hi}
                            for f in self.figures]}


def _spark(values: np.ndarray, joint: np.ndarray) -> str:
    """A sparkline on the joint scale of the band and the run (so the rows line up)."""
    finite = joint[np.isfinite(joint)]
    bounds = (float(finite.min()), float(finite.max())) if finite.size else None
    return sparkline(np.asarray(values, dtype=np.float64), _SPARK, log=False, bounds=bounds)


def first_divergence(a: Sequence[float], b: Sequence[float], rtol: float = 0.0,
                     atol: float = 0.0) -> int | None:
    """The first index where ``a`` and ``b`` differ beyond ``rtol``/``atol`` (or in length);
    ``None`` when they agree.

    Example:
        >>> from trainspec.baseline import first_divergence
        >>> first_divergence([1.0, 2.0, 3.0], [1.0, 2.5, 3.0])
        1
    """
    x = np.asarray([np.nan if v is None else v for v in a], dtype=np.float64)
    y = np.asarray([np.nan if v is None else v for v in b], dtype=np.float64)
    n = min(len(x), len(y))
    same = np.isclose(x[:n], y[:n], rtol=rtol, atol=atol, equal_nan=True)
    if not same.all():
        return int(np.argmax(~same))
    return None if len(x) == len(y) else n
