"""``Series``: one recorded quantity over training steps, numpy-backed, with trend helpers.

``numpy.asarray(series)`` gives the values; ``series.steps`` the step index of each value.
The ``repr`` is short and carries a sparkline, so pytest's assertion rewriting shows the curve.
"""

from __future__ import annotations

from collections.abc import Iterator
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

    def relative_decrease(self, window: int | None = None) -> float:
        """``1 - end/start``, where start and end are medians over ``window`` values at each end
        (default: a tenth of the run, 1 to 20 values).  0.5 means the series fell by half;
        negative means it rose.

        Example:
            >>> Series("loss", [4.0, 4.0, 2.0, 1.0]).relative_decrease(window=2)
            0.625
        """
        if not len(self):
            return float("nan")
        w = window or self._default_window()
        start = self.median(w, at="start")
        end = self.median(w, at="end")
        if start == 0:
            return 0.0 if end == 0 else float("-inf")
        return 1.0 - end / start

    def ratio(self, window: int | None = None) -> float:
        """``end/start`` with the same windowed medians as :meth:`relative_decrease`."""
        return 1.0 - self.relative_decrease(window)

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
            f"Series({self.name!r}, {len(self)} steps: {self.first:.4g} -> {self.last:.4g}, "
            f"min {self.min():.4g}, max {self.max():.4g} {self.sparkline(24)})"
        )


def _is_f64(values: Any) -> bool:
    return isinstance(values, np.ndarray) and values.dtype == np.float64
