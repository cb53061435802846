"""The baseline file: its version line, how a run is compared (:class:`Mode`), the statistics
each mode stores in words, and JSON a reviewer can read in a diff (the version key first, one
series per line, numbers to 7 significant digits).

Example:
    >>> from trainspec.baseline.format import dumps
    >>> print(dumps({"trainspec_baseline": 1, "series": {"loss": [1.0, 0.5]}}))
    {"trainspec_baseline": 1,
     "series": {"loss": [1.0, 0.5]}}
"""

from __future__ import annotations

import json
import math
from enum import Enum
from typing import Any

from trainspec.environment import environment

#: Version of the baseline file layout (the first line of every file).
BASELINE_VERSION = 1
VERSION_KEY = "trainspec_baseline"


class Mode(str, Enum):
    """How a run is compared with its baseline."""

    ENVELOPE = "envelope"  # per-step bands from several seeds
    EXACT = "exact"  # bitwise equal
    CLOSE = "close"  # numpy.isclose with rtol/atol

    def __str__(self) -> str:
        return self.value


#: What each mode stores and how a check reads it, written into every file.
STATISTICS = {
    Mode.ENVELOPE: ("per step: centred moving average over 'smoothing' steps; across seeds a 99% "
                    "prediction interval for one more seed, lo = min(min, mean - k sd), hi = "
                    "max(max, mean + k sd), k = t(0.995, seeds - 1) * sqrt(1 + 1/seeds); a check "
                    "widens it by margin x median |mean| and allows a budget of steps outside"),
    Mode.EXACT: "the run's own values; a check requires bitwise equality",
    Mode.CLOSE: "the run's own values; a check requires numpy.isclose(run, baseline, rtol, atol)",
}


def versions() -> dict[str, Any]:
    """The versions and platform a baseline is recorded with (exact equality holds on one)."""
    env = environment()
    return {k: env.get(k) for k in ("tensorflow", "keras", "numpy", "python", "platform")}


def round1(value: float) -> float | None:
    """7 significant digits; ``None`` for NaN or infinity (JSON has neither)."""
    return float(f"{value:.7g}") if math.isfinite(value) else None


def round_all(values: Any) -> list[float | None]:
    return [round1(float(v)) for v in values]


def dumps(value: Any, indent: int = 0) -> str:
    """JSON with lists of numbers on one line and keys in the order given."""
    pad = " " * (indent + 1)
    if isinstance(value, dict) and value:
        items = [f"{json.dumps(str(k))}: {dumps(v, indent + 1)}" for k, v in value.items()]
        return "{" + (",\n" + pad).join(items) + "}"
    if isinstance(value, list) and any(isinstance(v, (dict, list)) for v in value):
        return "[" + (",\n" + pad).join(dumps(v, indent + 1) for v in value) + "]"
    return json.dumps(value, allow_nan=False)
