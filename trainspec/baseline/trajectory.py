"""A recorded trajectory (:class:`Baseline`): the bands or values it holds, how it is written
and read, and :meth:`Baseline.check`, which compares a run with it.

A check smooths the run as the baseline was smoothed and passes when at most ``budget``
(default 5%) of its steps lie outside the band widened on both sides by ``margin`` (default
0.05) times the series' typical size (the median of ``|mean|`` over steps), every summary
figure lies inside its band widened the same way (by ``margin`` x its mean; steps to halve the
loss by ``margin`` x the steps), and the trainable layers (class, parameter count) are those
recorded.  ``exact`` baselines need every value bitwise equal, ``close`` ones
``numpy.isclose(run, baseline, rtol, atol)``.

Example:
    >>> from trainspec import baseline                                  # doctest: +SKIP
    >>> comparison = baseline.load("baselines/my_recipe.json").check(run)
    >>> comparison.ok
    True
"""

from __future__ import annotations

import json
import math
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from trainspec.baseline.comparison import Comparison, FigureMismatch, Mismatch
from trainspec.baseline.format import BASELINE_VERSION, STATISTICS, VERSION_KEY, Mode, dumps
from trainspec.baseline.series import (
    BaselineError,
    figures_of,
    in_group,
    layers_of,
    parse_groups,
    selects_something,
    series_of,
    series_order,
    show_layers,
    smooth,
)
from trainspec.environment import write_atomic

DEFAULT_MARGIN = 0.05
DEFAULT_BUDGET = 0.05


@dataclass
class Baseline:
    """A recorded trajectory: bands (``envelope``) or the run's own values (``exact``/``close``).

    ``series`` maps a series name to ``{"steps": [...], "lo": [...], "hi": [...], "mean": [...]}``
    (envelope) or ``{"steps": [...], "values": [...]}``; ``figures`` maps a summary figure to
    ``{"values": [one per seed], "lo": ..., "hi": ..., "mean": ...}``.
    """

    mode: Mode
    groups: tuple[str, ...]
    steps: int
    seeds: list[int]
    smoothing: int
    series: dict[str, dict[str, list[float]]]
    figures: dict[str, dict[str, Any]] = field(default_factory=dict)
    recipe: str | None = None
    spec: str | None = None
    fingerprints: list[str] = field(default_factory=list)
    environment: dict[str, Any] = field(default_factory=dict)
    #: the trainable layers as ``[class name, parameter count]``, in model order
    layers: list[list[Any]] = field(default_factory=list)

    # -- files -------------------------------------------------------------------------------

    def to_json(self) -> dict[str, Any]:
        return {
            VERSION_KEY: BASELINE_VERSION,
            "spec": self.spec,
            "recipe": self.recipe,
            "mode": self.mode.value,
            "series_groups": list(self.groups),
            "steps": self.steps,
            "seeds": list(self.seeds),
            "smoothing": self.smoothing,
            "statistics": STATISTICS[self.mode],
            "environment": self.environment,
            "fingerprints": list(self.fingerprints),
            "layers": self.layers,
            "series": self.series,
            "figures": self.figures,
        }

    @classmethod
    def from_json(cls, data: dict[str, Any], where: str = "baseline") -> Baseline:
        version = data.get(VERSION_KEY) if isinstance(data, dict) else None
        if version != BASELINE_VERSION:
            raise BaselineError(f"{where}: not a trainspec baseline of version {BASELINE_VERSION} "
                                f"(found {VERSION_KEY} = {version!r})")
        try:
            return cls(mode=Mode(data["mode"]), groups=tuple(data["series_groups"]),
                       steps=int(data["steps"]), seeds=list(data["seeds"]),
                       smoothing=int(data["smoothing"]), series=dict(data["series"]),
                       figures=dict(data.get("figures") or {}), recipe=data.get("recipe"),
                       spec=data.get("spec"), fingerprints=list(data.get("fingerprints") or []),
                       environment=dict(data.get("environment") or {}),
                       layers=list(data.get("layers") or []))
        except (KeyError, ValueError, TypeError) as exc:
            raise BaselineError(f"{where}: malformed baseline ({type(exc).__name__}: {exc})") from None

    def dumps(self) -> str:
        """Reviewable JSON: the version key on the first line, one series list per line."""
        return dumps(self.to_json()) + "\n"

    def dump(self, path: str | Path) -> Path:
        """Write atomically (a temporary file renamed into place)."""
        write_atomic(path, self.dumps())
        return Path(path)

    # -- checking ----------------------------------------------------------------------------

    def check(self, run: Any, *, margin: float = DEFAULT_MARGIN, budget: float = DEFAULT_BUDGET,
              rtol: float = 1e-5, atol: float = 1e-8,
              groups: Iterable[str] | None = None) -> Comparison:
        """Compare ``run`` with this baseline; see :class:`Comparison`.

        Example:
            >>> comparison = baseline.check(run)                  # doctest: +SKIP
            >>> comparison.ok, comparison.mismatches[0].series
            (False, 'loss')
        """
        chosen = parse_groups(groups) if groups is not None else self.groups
        missing = [g for g in chosen if g not in self.groups]
        if missing:
            raise BaselineError(f"the baseline was recorded without series {', '.join(missing)}"
                                " (re-record it with --trainspec-update-baselines)")
        current = series_of(run, chosen)
        if not current and not any(any(in_group(n, g) for g in chosen) for n in self.series):
            selects_something(run, chosen, current)
        result = Comparison(self, run, margin=margin, budget=budget, rtol=rtol, atol=atol)
        layers = layers_of(run)
        if self.layers and layers != self.layers:
            result.mismatches.append(Mismatch("layers", "structure", note=(
                f"trainable layers changed from {show_layers(self.layers)} to "
                f"{show_layers(layers)}")))
        for name in sorted(set(self.series) | set(current), key=series_order):
            if not any(in_group(name, g) for g in chosen):
                continue
            if name not in current:
                result.mismatches.append(Mismatch(name, "missing",
                                                  note="the baseline has it; the run does not"))
                continue
            if name not in self.series:
                result.mismatches.append(Mismatch(name, "missing",
                                                  note="the run has it; the baseline does not"))
                continue
            mismatch = self._check_series(name, *current[name], margin, budget, rtol, atol)
            if mismatch is not None:
                result.mismatches.append(mismatch)
        if self.mode is Mode.ENVELOPE:
            figures = figures_of(run, chosen, self.smoothing)
            for name, band in self.figures.items():
                if name not in figures:
                    continue
                # a count of steps is widened in steps (margin x run length), others by size
                scale = self.steps if name == "steps_to_halve_loss" else abs(band["mean"])
                lo, hi = _widen(band["lo"], band["hi"], scale, margin)
                value = figures[name]
                if not (lo <= value <= hi):
                    result.figures.append(FigureMismatch(name, value, lo, hi, band["values"]))
        return result

    def _check_series(self, name: str, steps: np.ndarray, values: np.ndarray, margin: float,
                      budget: float, rtol: float, atol: float) -> Mismatch | None:
        stored = self.series[name]
        base_steps = np.asarray(stored["steps"], dtype=np.int64)
        if len(steps) != len(base_steps) or not np.array_equal(steps, base_steps):
            return Mismatch(name, "length", note=f"the run has {len(steps)} steps of {name}, the "
                            f"baseline {len(base_steps)}")
        if self.mode is Mode.ENVELOPE:
            lo = np.asarray(stored["lo"], dtype=np.float64)
            hi = np.asarray(stored["hi"], dtype=np.float64)
            mean = np.asarray(stored["mean"], dtype=np.float64)
            scale = float(np.median(np.abs(mean))) if len(mean) else 0.0
            lo, hi = _widen(lo, hi, scale, margin)
            run = smooth(values, self.smoothing)
            with np.errstate(invalid="ignore"):
                above = np.where(run > hi, run - hi, 0.0)
                below = np.where(run < lo, lo - run, 0.0)
            distance = np.where(np.isfinite(run), above + below, np.inf)
            outside = distance > 0
            allowed = int(math.floor(budget * len(run)))
            if int(outside.sum()) <= allowed:
                return None
            first = int(np.argmax(outside))
            return Mismatch(name, "envelope", steps=steps, run=run, lo=lo, hi=hi,
                            outside=int(outside.sum()), allowed=allowed, first=first,
                            by=float(distance[first]),
                            side="above" if above[first] > 0 else "below",
                            worst=float(np.max(distance)))
        reference = np.asarray(stored["values"], dtype=np.float64)
        if self.mode is Mode.EXACT:
            differ = ~((values == reference) | (np.isnan(values) & np.isnan(reference)))
        else:
            differ = ~np.isclose(values, reference, rtol=rtol, atol=atol, equal_nan=True)
        if not differ.any():
            return None
        first = int(np.argmax(differ))
        diff = np.abs(values - reference)
        with np.errstate(divide="ignore", invalid="ignore"):
            rel = np.where(reference != 0, diff / np.abs(reference), np.inf)
        return Mismatch(name, str(self.mode), steps=steps, run=values, lo=reference, hi=reference,
                        outside=int(differ.sum()), allowed=0, first=first,
                        by=float(diff[first]), side="off",
                        worst=float(np.nanmax(np.where(differ, diff, 0.0))),
                        worst_rel=float(np.nanmax(np.where(differ, rel, 0.0))))


def _widen(lo: Any, hi: Any, scale: float, margin: float) -> tuple[Any, Any]:
    pad = margin * scale
    return lo - pad, hi + pad


def load(path: str | Path) -> Baseline:
    """Read a baseline file (:class:`BaselineError` when it is not one)."""
    try:
        data = json.loads(Path(path).read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise BaselineError(f"{path}: cannot read the baseline ({exc})") from None
    return Baseline.from_json(data, str(path))

