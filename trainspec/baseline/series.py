"""The series a baseline compares and the summary figures it keeps: which series a selection
names (``loss``, ``metrics``, ``grad_norms``, ``val``), their stable names, the moving average
that smooths them, and the figures (final loss, steps to halve it, median gradient norms).

Example:
    >>> from trainspec.baseline.series import smooth
    >>> smooth(np.array([0.0, 3.0, 0.0, 3.0]), 3).tolist()
    [1.5, 1.0, 2.0, 1.5]
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import numpy as np


class BaselineError(ValueError):
    """A baseline that cannot be read or used (bad file, unknown series, wrong options)."""


#: Series groups a check may select (``"all"``: every group).
GROUPS = ("loss", "metrics", "grad_norms", "val")
DEFAULT_SERIES = ("loss", "metrics", "grad_norms")


def series_of(run: Any, groups: Iterable[str] = DEFAULT_SERIES) -> dict[str, tuple[np.ndarray,
                                                                                   np.ndarray]]:
    """The chosen series of ``run`` by stable name: ``loss``, ``metric:<name>``,
    ``grad_norm:<i>:<LayerClass>`` (by position, not by Keras' automatic layer names) and
    ``val:<name>``; each as ``(steps, values)``.

    Example:
        >>> from trainspec.baseline import series_of              # doctest: +SKIP
        >>> sorted(series_of(run, ["loss", "metrics"]))
        ['loss', 'metric:accuracy']
    """
    chosen = parse_groups(groups)
    out: dict[str, tuple[np.ndarray, np.ndarray]] = {}

    def put(name: str, s: Any) -> None:
        out[name] = (np.asarray(s.steps, dtype=np.int64), np.asarray(s, dtype=np.float64))

    if "loss" in chosen:
        put("loss", run.loss)
    if "metrics" in chosen:
        for name, s in run.metrics.items():
            put(f"metric:{name}", s)
    if "grad_norms" in chosen:
        for i, layer in enumerate(run.layers.list()):
            put(f"grad_norm:{i}:{layer.class_name}", layer.grad_norm)
    if "val" in chosen:
        for name, s in run.val_history.items():
            put(f"val:{name}", s)
    return out


def selects_something(run: Any, groups: tuple[str, ...], found: dict[str, Any]) -> None:
    """Refuse a selection under which ``run`` has no series at all: a comparison of nothing
    would pass whatever the run did."""
    if found:
        return
    why = {"metrics": "no metrics (Recipe(metrics=[...]))",
           "val": "no validation series (validation_data with eval_every)",
           "grad_norms": "no probed trainable layer"}
    reasons = "; ".join(f"{g}: {why[g]}" for g in groups if g in why)
    raise BaselineError(f"series {', '.join(groups)} select nothing in run {run.label!r} "
                        f"({reasons}): a baseline of nothing would pass whatever the run did; "
                        "choose series the run records (e.g. 'loss')")


def parse_groups(groups: Iterable[str] | str) -> tuple[str, ...]:
    items = (groups,) if isinstance(groups, str) else tuple(groups)
    if "all" in items:
        return GROUPS
    unknown = [g for g in items if g not in GROUPS]
    if unknown:
        raise BaselineError(f"unknown series {', '.join(map(repr, unknown))}; choose from "
                            f"{', '.join(GROUPS)} or 'all'")
    if not items:
        raise BaselineError("series=() selects nothing to compare")
    return items


def smooth(values: np.ndarray, window: int) -> np.ndarray:
    """Centred moving average over ``window`` steps (an odd window is centred exactly; the
    window shrinks at both ends).

    Example:
        >>> from trainspec.baseline import smooth
        >>> smooth(np.array([0.0, 3.0, 0.0, 3.0]), 3).tolist()
        [1.5, 1.0, 2.0, 1.5]
    """
    values = np.asarray(values, dtype=np.float64)
    n = len(values)
    if window <= 1 or n == 0:
        return values.copy()
    half = window // 2
    cums = np.concatenate([[0.0], np.cumsum(values)])
    idx = np.arange(n)
    lo = np.clip(idx - half, 0, n)
    hi = np.clip(idx - half + window, 0, n)
    return (cums[hi] - cums[lo]) / (hi - lo)


def default_smoothing(steps: int) -> int:
    """A tenth of the steps, made odd so the average is centred."""
    return max(1, steps // 10) | 1


def figures_of(run: Any, groups: Iterable[str], smoothing: int) -> dict[str, float]:
    """Summary figures of a run for the chosen series groups.

    ``final_loss`` and ``final:<metric>``: means over the last tenth of the steps;
    ``steps_to_halve_loss``: the first step where the smoothed loss is at most half its first
    smoothed value (the step count when it never is); ``grad_norm_median:<i>``: each layer's
    median gradient norm."""
    chosen = parse_groups(groups)
    n = len(run.loss)
    tail = max(1, n // 10)
    out: dict[str, float] = {}
    if "loss" in chosen and n:
        loss = np.asarray(run.loss, dtype=np.float64)
        out["final_loss"] = float(np.mean(loss[-tail:]))
        smoothed = smooth(loss, smoothing)
        below = np.nonzero(smoothed <= smoothed[0] / 2)[0]
        out["steps_to_halve_loss"] = float(below[0]) if below.size else float(n)
    if "metrics" in chosen:
        for name, s in run.metrics.items():
            if len(s):
                out[f"final:{name}"] = float(np.mean(np.asarray(s, dtype=np.float64)[-tail:]))
    if "grad_norms" in chosen:
        for i, layer in enumerate(run.layers.list()):
            if len(layer.grad_norm):
                out[f"grad_norm_median:{i}:{layer.class_name}"] = float(layer.grad_norm.median())
    return out


def layers_of(run: Any) -> list[list[Any]]:
    """The run's trainable layers as ``[class name, parameter count]``, in model order."""
    return [[t.class_name, int(t.n_params)] for t in run.layers.list()]


def show_layers(layers: list[list[Any]]) -> str:
    return "[" + ", ".join(f"{c} ({n} params)" for c, n in layers) + "]"


def series_order(name: str) -> tuple[int, str]:
    """loss, then metrics, gradient norms (by layer position) and validation."""
    for i, group in enumerate(GROUPS):
        if in_group(name, group):
            parts = name.split(":")
            position = parts[1].zfill(6) if group == "grad_norms" and len(parts) > 1 else name
            return i, position
    return len(GROUPS), name


def in_group(name: str, group: str) -> bool:
    prefix = {"loss": "loss", "metrics": "metric:", "grad_norms": "grad_norm:", "val": "val:"}
    return name == "loss" if group == "loss" else name.startswith(prefix[group])

