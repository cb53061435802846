"""Render a curve as one line of Unicode block characters."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

_BLOCKS = "▁▂▃▄▅▆▇█"


def bucket_reduce(values: np.ndarray, buckets: int, reduce: Callable[..., Any]) -> np.ndarray:
    """``reduce(part)`` of each of ``np.array_split(values, buckets)``'s parts, vectorised: the
    first ``len % buckets`` parts are one longer, so the parts are two 2-D blocks and ``reduce``
    runs once per block along its rows (``np.median``: the same values as one call per part).

    Example:
        >>> bucket_reduce(np.arange(5.0), 2, np.median)
        array([1. , 3.5])
    """
    size, longer = divmod(values.size, buckets)
    cut = longer * (size + 1)
    blocks = (values[:cut].reshape(longer, size + 1), values[cut:].reshape(buckets - longer, size))
    return np.concatenate([reduce(block, axis=1) for block in blocks if len(block)])


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
    buckets = min(width, data.size)
    finite = np.isfinite(data)
    points = bucket_reduce(np.where(finite, data, 0.0), buckets, np.median)
    points[~bucket_reduce(finite, buckets, np.all)] = np.nan  # a bucket with a non-finite value
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
