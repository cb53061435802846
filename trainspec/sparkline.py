"""Render a curve as one line of Unicode block characters."""

from __future__ import annotations

import numpy as np

_BLOCKS = "▁▂▃▄▅▆▇█"


def sparkline(values: np.ndarray | list[float], width: int = 40, log: bool | None = None,
              bounds: tuple[float, float] | None = None) -> str:
    """Downsample ``values`` to at most ``width`` buckets (median per bucket) and draw them.

    Non-finite buckets show as ``×``.  ``log`` scales by log10 (default: when the finite,
    positive values span more than three decades, as exploding norms do).

    Example:
        >>> from trainspec.sparkline import sparkline
        >>> sparkline([3, 2, 1, 0], width=4)
        '█▆▃▁'
    """
    data = np.asarray(values, dtype=np.float64)
    if data.size == 0:
        return ""
    buckets = np.array_split(data, min(width, data.size))
    points = np.array(
        [np.median(b) if np.all(np.isfinite(b)) else np.nan for b in buckets], dtype=np.float64
    )
    finite = points[np.isfinite(points)]
    if log is None:
        positive = finite[finite > 0]
        log = bool(
            positive.size == finite.size
            and positive.size
            and positive.max() / positive.min() > 1e3
        )
    if log:
        with np.errstate(divide="ignore", invalid="ignore"):
            points = np.log10(points)
        finite = points[np.isfinite(points)]
    if finite.size == 0:
        return "×" * len(points)
    lo, hi = (float(finite.min()), float(finite.max())) if bounds is None else bounds
    span = hi - lo
    chars = []
    for p in points:
        if not np.isfinite(p):
            chars.append("×")
        elif span == 0:
            chars.append(_BLOCKS[len(_BLOCKS) // 2])
        else:
            level = int(round((p - lo) / span * (len(_BLOCKS) - 1)))
            chars.append(_BLOCKS[min(len(_BLOCKS) - 1, max(0, level))])
    return "".join(chars)
