"""``Series``: one recorded quantity over training steps, numpy-backed, with trend helpers.

``numpy.asarray(series)`` gives the values; ``series.steps`` the step index of each value.
The ``repr`` is short and carries a sparkline, so pytest's assertion rewriting shows the curve.
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import numpy as np

from trainspec.constants import SPARKLINE_WIDTH
from trainspec.sparkline import sparkline


class Series:
    """Values of one quantity at recorded training steps.

    Example:
        >>> import numpy as np
        >>> from trainspec import Series
        >>> loss = Series("loss", [2.0, 1.5, 1.0, 0.8, 0.5])
        >>> round(loss.relative_decrease(window=1), 2)
        0.75
        >>> loss.first_below(1.0)
        3
        >>> loss.is_monotonic()
        True
    """

    __slots__ = ("name", "_values", "_steps")

    def __init__(self, name: str, values: Any, steps: Any = None):
        self.name = name
        self._values = np.asarray(values, dtype=np.float64 if _is_f64(values) else np.float32)
        if self._values.ndim != 1:
            raise ValueError(f"series {name!r} must be one-dimensional")
        self._steps = (
            np.arange(len(self._values), dtype=np.int64)
            if steps is None
            else np.asarray(steps, dtype=np.int64)
        )
        if self._steps.shape != self._values.shape:
            raise ValueError(f"series {name!r}: {len(self._steps)} steps for {len(self)} values")

    # -- array protocol ------------------------------------------------------------------------

    def __array__(self, dtype: Any = None, copy: Any = None) -> np.ndarray:
        values = self._values if dtype is None else self._values.astype(dtype)
        return values.copy() if copy else values

    def __len__(self) -> int:
        return len(self._values)

    def __iter__(self) -> Iterator[float]:
        return iter(self._values.tolist())

    def __getitem__(self, index: Any) -> Any:
        if isinstance(index, slice):
            return Series(self.name, self._values[index], self._steps[index])
        return float(self._values[index])

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Series):
            return NotImplemented
        return (
            self.name == other.name
            and np.array_equal(self._values, other._values)
            and np.array_equal(self._steps, other._steps)
        )

    __hash__ = None  # type: ignore[assignment]

    @property
    def values(self) -> np.ndarray:
        """The values as a read-only numpy array."""
        view = self._values.view()
        view.flags.writeable = False
        return view

    @property
    def steps(self) -> np.ndarray:
        """The training step (0-based) at which each value was recorded."""
        view = self._steps.view()
        view.flags.writeable = False
        return view

    # -- summaries -----------------------------------------------------------------------------

    @property
    def first(self) -> float:
        """The first recorded value (NaN when empty)."""
        return float(self._values[0]) if len(self) else float("nan")

    @property
    def last(self) -> float:
        """The last recorded value (NaN when empty)."""
        return float(self._values[-1]) if len(self) else float("nan")

    def min(self) -> float:
        return float(np.min(self._values)) if len(self) else float("nan")

    def max(self) -> float:
        return float(np.max(self._values)) if len(self) else float("nan")

    def mean(self) -> float:
        return float(np.mean(self._values)) if len(self) else float("nan")

    def argmax_step(self) -> int | None:
        """The step of the largest value."""
        return int(self._steps[int(np.argmax(self._values))]) if len(self) else None

    def argmin_step(self) -> int | None:
        """The step of the smallest value."""
        return int(self._steps[int(np.argmin(self._values))]) if len(self) else None

    def median(self, window: int | None = None, at: str = "end") -> float:
        """Median over the last (``at="end"``) or first (``at="start"``) ``window`` values, or
        over all values when ``window`` is None; robust to the noise of mini-batch losses."""
        return float(np.median(self._window(window, at))) if len(self) else float("nan")

    def _window(self, window: int | None, at: str) -> np.ndarray:
        if window is None:
            return self._values
        if window <= 0:
            raise ValueError("window must be positive")
        if at == "end":
            return self._values[-window:]
        if at == "start":
            return self._values[:window]
        raise ValueError("at must be 'start' or 'end'")

    def _default_window(self) -> int:
        return max(1, min(20, len(self) // 10))

    def change(self, window: int | None = None) -> Change:
        """How the series changed from start to end: the median of the first ``window`` values
        against the median of the last ``window`` (default: a tenth of the run, 1 to 20 values,
        so one noisy mini-batch does not decide).  The one definition behind
        :meth:`relative_decrease`, ``expect``'s messages and the report.

        Example:
            >>> loss = Series("loss", [2.0, 2.4, 2.2, 1.1, 0.9, 1.0])
            >>> loss.change(window=3).describe()
            'median of the first 3 steps 2.20 -> median of the last 3 steps 1.00, a 55% decrease'
            >>> Series("loss", [1.0, 2.0]).change(window=1).describe()
            'first step 1.00 -> last step 2.00, a 100% increase'
        """
        if window is not None and window <= 0:
            raise ValueError("window must be positive")
        if not len(self):
            return Change(self.name, math.nan, math.nan, 0, 0)
        w = min(window or self._default_window(), len(self))
        return Change(self.name, self.median(w, at="start"), self.median(w, at="end"), w,
                      len(self))

    def relative_decrease(self, window: int | None = None) -> float:
        """How much the series fell, as a fraction of where it started:
        ``(start - end) / |start|`` (``1 - end/start`` for a positive start), where start and
        end are the windowed medians of :meth:`change`.  0.5 means the series fell by half;
        negative means it rose.

        Example:
            >>> Series("loss", [4.0, 4.0, 2.0, 1.0]).relative_decrease(window=2)
            0.625
        """
        return self.change(window).relative_decrease

    def ratio(self, window: int | None = None) -> float:
        """``end/start`` with the same windowed medians as :meth:`change`."""
        change = self.change(window)
        if change.start == 0:
            return 1.0 if change.end == 0 else math.copysign(math.inf, change.end)
        return change.end / change.start

    def slope(self, window: int | None = None) -> float:
        """Least-squares slope per step over the last ``window`` values (all when None)."""
        values = self._window(window, "end")
        steps = self._steps[-len(values):].astype(np.float64)
        if len(values) < 2:
            return 0.0
        return float(np.polyfit(steps, values.astype(np.float64), 1)[0])

    def is_monotonic(self, decreasing: bool = True, tolerance: float = 0.0) -> bool:
        """True when every step moves in one direction, allowing moves back of at most
        ``tolerance`` (absolute)."""
        diffs = np.diff(self._values.astype(np.float64))
        if decreasing:
            return bool(np.all(diffs <= tolerance))
        return bool(np.all(diffs >= -tolerance))

    def first_below(self, threshold: float) -> int | None:
        """The first step whose value is below ``threshold``, or None."""
        hits = np.flatnonzero(self._values < threshold)
        return int(self._steps[hits[0]]) if hits.size else None

    def first_above(self, threshold: float) -> int | None:
        """The first step whose value is above ``threshold``, or None."""
        hits = np.flatnonzero(self._values > threshold)
        return int(self._steps[hits[0]]) if hits.size else None

    def fraction_above(self, threshold: float) -> float:
        """Fraction of recorded steps whose value exceeds ``threshold``."""
        return float(np.mean(self._values > threshold)) if len(self) else float("nan")

    def smoothed(self, window: int = 10) -> Series:
        """Trailing moving average over ``window`` values (shorter at the start)."""
        values = self._values.astype(np.float64)
        cumulative = np.cumsum(np.insert(values, 0, 0.0))
        idx = np.arange(1, len(values) + 1)
        lo = np.maximum(idx - window, 0)
        return Series(self.name, (cumulative[idx] - cumulative[lo]) / (idx - lo), self._steps)

    def sparkline(self, width: int = SPARKLINE_WIDTH) -> str:
        """The series as a line of block characters, ``width`` wide."""
        return sparkline(self._values, width)

    def __repr__(self) -> str:
        if not len(self):
            return f"Series({self.name!r}, empty)"
        return (
            f"Series({self.name!r}, {len(self)} steps: {self.change().describe()}; "
            f"min {self.min():.4g}, max {self.max():.4g} {self.sparkline(24)})"
        )


def _is_f64(values: Any) -> bool:
    return isinstance(values, np.ndarray) and values.dtype == np.float64


@dataclass(frozen=True)
class Change:
    """How a series changed: the median of its first ``window`` values (``start``) against the
    median of its last ``window`` (``end``), over ``steps`` recorded values.

    Example:
        >>> c = Change("loss", start=2.31, end=2.30, window=20, steps=200)
        >>> c.describe()
        'median of the first 20 steps 2.31 -> median of the last 20 steps 2.30, a 0.43% decrease'
        >>> round(c.relative_decrease, 4)
        0.0043
    """

    name: str
    start: float
    end: float
    window: int
    steps: int

    @property
    def relative_decrease(self) -> float:
        """``(start - end) / |start|``: positive when the series fell, negative when it rose
        (``-inf`` when it rose from 0, NaN when either end is not finite)."""
        if self.start == 0:
            return 0.0 if self.end == 0 else (-math.inf if self.end > 0 else math.inf)
        return (self.start - self.end) / abs(self.start)

    @property
    def direction(self) -> str:
        """``"decrease"``, ``"increase"``, ``"no change"`` or ``"undefined"`` (NaN/Inf)."""
        if not (math.isfinite(self.start) and math.isfinite(self.end)):
            return "undefined"
        if self.end == self.start:
            return "no change"
        return "decrease" if self.end < self.start else "increase"

    def amount(self) -> str:
        """The change in words: ``"a 43% decrease"``, ``"a 2.1% increase"``, ``"no change"``."""
        direction = self.direction
        if direction in ("no change", "undefined"):
            return direction if direction == "no change" else "change undefined (non-finite)"
        if self.start == 0:
            return f"a{'n' if direction == 'increase' else ''} {direction} from 0"
        percent = abs(self.relative_decrease) * 100
        if percent >= 10:
            text = f"{percent:.0f}"
        elif percent >= 1:
            text = f"{percent:.1f}"
        else:
            text = f"{percent:.2g}"
        whole = text.split(".")[0]
        article = "an" if whole.startswith("8") or whole in ("11", "18") else "a"  # an 8%, an 11%
        return f"{article} {text}% {direction}"

    def endpoints(self) -> tuple[str, str]:
        """``start`` and ``end`` formatted with enough digits to tell them apart."""
        return _distinct(self.start, self.end)

    def describe(self) -> str:
        """The change in one line, naming its definition."""
        if not self.steps:
            return "no values recorded"
        start, end = self.endpoints()
        if self.window == 1:
            first, last = "first step", "last step"
        else:
            first = f"median of the first {self.window} steps"
            last = f"median of the last {self.window} steps"
        return f"{first} {start} -> {last} {end}, {self.amount()}"

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Change:
        """The change back from :meth:`to_json` (None becomes NaN)."""
        def value(x: Any) -> float:
            return math.nan if x is None else float(x)

        return cls(str(data.get("name", "")), value(data.get("start")), value(data.get("end")),
                   int(data.get("window") or 0), int(data.get("steps") or 0))

    def to_json(self) -> dict[str, Any]:
        """JSON-ready fields (NaN/Inf become None) and the description."""
        def clean(x: float) -> float | None:
            return float(x) if math.isfinite(x) else None

        return {"name": self.name, "start": clean(self.start), "end": clean(self.end),
                "window": self.window, "steps": self.steps,
                "relative_decrease": clean(self.relative_decrease),
                "description": self.describe()}


def _fmt(value: float, digits: int) -> str:
    if not math.isfinite(value):
        return str(value)
    text = f"{value:#.{digits}g}"
    if "e" not in text:
        text = text.rstrip(".")
    return text


def _distinct(a: float, b: float) -> tuple[str, str]:
    """Format ``a`` and ``b`` with 3 significant digits, more (up to 7) when they differ but
    would print the same."""
    for digits in range(3, 8):
        left, right = _fmt(a, digits), _fmt(b, digits)
        if left != right or a == b:
            break
    return left, right
