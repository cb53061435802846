"""Trajectory baselines: record how a recipe trains today, check a run against it after a refactor.

A refactor that is mathematically the same (Sequential to functional, layers built in another
order, another seed, another batch order) changes a training curve by float noise that grows
over steps: an exact comparison fails every such refactor and one fixed ``rtol`` is too loose
early and too tight late.  The default tolerance is a **seed envelope**: :func:`record` trains
the recipe with ``seeds`` seeds (default 5: the recipe's own and the next four) and stores, per
step of every chosen series smoothed with a centred moving average (``smoothing`` steps, default
a tenth of the run, odd), a band: the 99% prediction interval for one more seed,

    lo = min(min over seeds, mean - k sd),   hi = max(max over seeds, mean + k sd),
    k = t(0.995, seeds - 1) * sqrt(1 + 1/seeds)        (5.04 for 5 seeds)

(``sd``: the sample standard deviation across seeds, ``t``: Student's t quantile), plus
summary figures per seed (final loss and accuracy: means of the last tenth of the steps; steps
until the smoothed loss halves; each layer's median gradient norm).  :meth:`Baseline.check`
smooths the run the same way and passes when at most ``budget`` (default 5%) of its steps lie
outside the band widened on both sides by ``margin`` (default 0.05) times the series' typical
size (the median of ``|mean|`` over steps), every summary figure lies inside its band widened
the same way (by ``margin`` x its mean; steps to halve the loss by ``margin`` x the steps),
and the trainable layers (class, parameter count) are those recorded.

``mode="exact"`` stores the run itself and requires every value to be bitwise equal (what the
engine guarantees on one machine with one set of versions); ``mode="close"`` stores the run and
compares with ``numpy.isclose(run, baseline, rtol, atol)``.

Baselines are JSON text with a version line first (``"trainspec_baseline": 1``), one series per
line, so a reviewer can read them in a diff.

Example:
    >>> from trainspec import baseline                                  # doctest: +SKIP
    >>> recorded = baseline.record(recipe, series=["loss", "metrics"])  # 5 seeds
    >>> recorded.dump("baselines/my_recipe.json")
    >>> comparison = baseline.load("baselines/my_recipe.json").check(trainspec.train(recipe))
    >>> comparison.ok
    True
"""

from __future__ import annotations

import json
import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from enum import Enum
from pathlib import Path
from typing import Any

import numpy as np

from trainspec.environment import environment, write_atomic
from trainspec.sparkline import sparkline

#: Version of the baseline file layout (the first line of every file).
BASELINE_VERSION = 1
VERSION_KEY = "trainspec_baseline"
DEFAULT_SEEDS = 5
DEFAULT_MARGIN = 0.05
DEFAULT_BUDGET = 0.05
#: Two-sided 99% quantiles of Student's t by degrees of freedom (seeds - 1); normal beyond 30.
_T995 = (63.657, 9.925, 5.841, 4.604, 4.032, 3.707, 3.499, 3.355, 3.250, 3.169, 3.106, 3.055,
         3.012, 2.977, 2.947, 2.921, 2.898, 2.878, 2.861, 2.845, 2.831, 2.819, 2.807, 2.797,
         2.787, 2.779, 2.771, 2.763, 2.756, 2.750)


def prediction_factor(seeds: int) -> float:
    """Half-width of a 99% prediction interval for one more seed, in sample standard deviations:
    ``t(0.995, seeds - 1) * sqrt(1 + 1/seeds)`` (5.04 for 5 seeds).

    Example:
        >>> from trainspec.baseline import prediction_factor
        >>> round(prediction_factor(5), 2)
        5.04
    """
    t = _T995[seeds - 2] if seeds - 2 < len(_T995) else 2.576
    return t * math.sqrt(1 + 1 / seeds)


#: Series groups a check may select (``"all"``: every group).
GROUPS = ("loss", "metrics", "grad_norms", "val")
DEFAULT_SERIES = ("loss", "metrics", "grad_norms")
_SPARK = 40


class Mode(str, Enum):
    """How a run is compared with its baseline."""

    ENVELOPE = "envelope"  # per-step bands from several seeds
    EXACT = "exact"  # bitwise equal
    CLOSE = "close"  # numpy.isclose with rtol/atol

    def __str__(self) -> str:
        return self.value


class BaselineError(ValueError):
    """A baseline that cannot be read or used (bad file, unknown series, wrong options)."""


# -- series of a run ---------------------------------------------------------------------------


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
    chosen = _groups(groups)
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


def _selects_something(run: Any, groups: tuple[str, ...], found: dict[str, Any]) -> None:
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


def _groups(groups: Iterable[str] | str) -> tuple[str, ...]:
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
    chosen = _groups(groups)
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


# -- the baseline ------------------------------------------------------------------------------


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
            "statistics": _STATISTICS[self.mode],
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
        return _dumps(self.to_json()) + "\n"

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
        chosen = _groups(groups) if groups is not None else self.groups
        missing = [g for g in chosen if g not in self.groups]
        if missing:
            raise BaselineError(f"the baseline was recorded without series {', '.join(missing)}"
                                " (re-record it with --trainspec-update-baselines)")
        current = series_of(run, chosen)
        if not current and not any(any(_in_group(n, g) for g in chosen) for n in self.series):
            _selects_something(run, chosen, current)
        result = Comparison(self, run, margin=margin, budget=budget, rtol=rtol, atol=atol)
        layers = _layers_of(run)
        if self.layers and layers != self.layers:
            result.mismatches.append(Mismatch("layers", "structure", note=(
                f"trainable layers changed from {_show_layers(self.layers)} to "
                f"{_show_layers(layers)}")))
        for name in sorted(set(self.series) | set(current), key=_series_order):
            if not any(_in_group(name, g) for g in chosen):
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


def _layers_of(run: Any) -> list[list[Any]]:
    return [[t.class_name, int(t.n_params)] for t in run.layers.list()]


def _show_layers(layers: list[list[Any]]) -> str:
    return "[" + ", ".join(f"{c} ({n} params)" for c, n in layers) + "]"


def _series_order(name: str) -> tuple[int, str]:
    """loss, then metrics, gradient norms (by layer position) and validation."""
    for i, group in enumerate(GROUPS):
        if _in_group(name, group):
            parts = name.split(":")
            position = parts[1].zfill(6) if group == "grad_norms" and len(parts) > 1 else name
            return i, position
    return len(GROUPS), name


def _in_group(name: str, group: str) -> bool:
    prefix = {"loss": "loss", "metrics": "metric:", "grad_norms": "grad_norm:", "val": "val:"}
    return name == "loss" if group == "loss" else name.startswith(prefix[group])


def _widen(lo: Any, hi: Any, scale: float, margin: float) -> tuple[Any, Any]:
    pad = margin * scale
    return lo - pad, hi + pad


_STATISTICS = {
    Mode.ENVELOPE: ("per step: centred moving average over 'smoothing' steps; across seeds a 99% "
                    "prediction interval for one more seed, lo = min(min, mean - k sd), hi = "
                    "max(max, mean + k sd), k = t(0.995, seeds - 1) * sqrt(1 + 1/seeds); a check "
                    "widens it by margin x median |mean| and allows a budget of steps outside"),
    Mode.EXACT: "the run's own values; a check requires bitwise equality",
    Mode.CLOSE: "the run's own values; a check requires numpy.isclose(run, baseline, rtol, atol)",
}


# -- recording ---------------------------------------------------------------------------------


def record(recipe: Any, *, series: Iterable[str] | str = DEFAULT_SERIES,
           mode: Mode | str = Mode.ENVELOPE, seeds: int | Sequence[int] = DEFAULT_SEEDS,
           smoothing: int | None = None, run: Any = None, spec: str | None = None) -> Baseline:
    """Record a baseline of ``recipe``: with ``mode="envelope"`` train it with ``seeds`` seeds
    (an int: the recipe's seed and the next ones; or a list) through :func:`trainspec.train`, so
    runs come from the memo and the disk cache when they can; otherwise store ``run`` (trained
    when not given).

    Example:
        >>> recorded = trainspec.baseline.record(recipe, seeds=5)       # doctest: +SKIP
        >>> recorded.seeds
        [0, 1, 2, 3, 4]
    """
    from trainspec import train

    mode = Mode(mode)
    groups = _groups(series)
    if run is None:
        run = train(recipe)
    if mode is not Mode.ENVELOPE:
        current = series_of(run, groups)
        _selects_something(run, groups, current)
        data = {name: {"steps": s.tolist(), "values": [float(x) for x in v]}
                for name, (s, v) in current.items()}
        return Baseline(mode, groups, len(run.loss), [run.seed], 1, data, {}, run.label, spec,
                        [run.fingerprint], _env(), _layers_of(run))
    seed_list = _seed_list(recipe.seed, seeds)
    runs = [run if s == run.seed else train(recipe.replace(seed=s)) for s in seed_list]
    return envelope(runs, groups, smoothing, recipe=run.label, spec=spec)


def _seed_list(first: int, seeds: int | Sequence[int]) -> list[int]:
    if isinstance(seeds, int):
        if seeds < 2:
            raise BaselineError(f"seeds={seeds}: a seed envelope needs at least 2 seeds")
        return [first + i for i in range(seeds)]
    items = [int(s) for s in seeds]
    if len(set(items)) < 2:
        raise BaselineError("a seed envelope needs at least 2 distinct seeds")
    return items


def envelope(runs: Sequence[Any], groups: Iterable[str] | str = DEFAULT_SERIES,
             smoothing: int | None = None, recipe: str | None = None,
             spec: str | None = None) -> Baseline:
    """A seed-envelope baseline from runs of one recipe with different seeds."""
    groups = _groups(groups)
    steps = len(runs[0].loss)
    if any(len(r.loss) != steps for r in runs):
        lengths = sorted({len(r.loss) for r in runs})
        raise BaselineError(f"the seeds' runs recorded different step counts {lengths} (a run "
                            "stopped early or diverged): a band needs equal lengths")
    window = smoothing or default_smoothing(steps)
    per_run = [series_of(r, groups) for r in runs]
    _selects_something(runs[0], groups, per_run[0])
    factor = prediction_factor(len(runs))
    names = sorted(set.intersection(*(set(p) for p in per_run)))
    data: dict[str, dict[str, list[float]]] = {}
    for name in names:
        stack = np.stack([smooth(p[name][1], window) for p in per_run])
        mean = stack.mean(axis=0)
        sd = stack.std(axis=0, ddof=1)
        lo = np.minimum(stack.min(axis=0), mean - factor * sd)
        hi = np.maximum(stack.max(axis=0), mean + factor * sd)
        data[name] = {"steps": per_run[0][name][0].tolist(), "mean": _round(mean),
                      "lo": _round(lo), "hi": _round(hi)}
    figures: dict[str, dict[str, Any]] = {}
    per_fig = [figures_of(r, groups, window) for r in runs]
    for name in sorted(set.intersection(*(set(f) for f in per_fig))):
        values = np.array([f[name] for f in per_fig])
        mean, sd = float(values.mean()), float(values.std(ddof=1))
        figures[name] = {"values": _round(values), "mean": _round1(mean),
                         "lo": _round1(min(values.min(), mean - factor * sd)),
                         "hi": _round1(max(values.max(), mean + factor * sd))}
    return Baseline(Mode.ENVELOPE, groups, steps, [r.seed for r in runs], window, data, figures,
                    recipe, spec, [r.fingerprint for r in runs], _env(), _layers_of(runs[0]))


def _env() -> dict[str, Any]:
    env = environment()
    return {k: env.get(k) for k in ("tensorflow", "keras", "numpy", "python", "platform")}


def _round1(value: float) -> float | None:
    return float(f"{value:.7g}") if math.isfinite(value) else None


def _round(values: Any) -> list[float | None]:
    return [_round1(float(v)) for v in values]


def load(path: str | Path) -> Baseline:
    """Read a baseline file (:class:`BaselineError` when it is not one)."""
    try:
        data = json.loads(Path(path).read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise BaselineError(f"{path}: cannot read the baseline ({exc})") from None
    return Baseline.from_json(data, str(path))


def _dumps(value: Any, indent: int = 0) -> str:
    """JSON with lists of numbers on one line and the version key first."""
    pad = " " * (indent + 1)
    if isinstance(value, dict) and value:
        items = [f"{json.dumps(str(k))}: {_dumps(v, indent + 1)}" for k, v in value.items()]
        return "{" + (",\n" + pad).join(items) + "}"
    if isinstance(value, list) and any(isinstance(v, (dict, list)) for v in value):
        return "[" + (",\n" + pad).join(_dumps(v, indent + 1) for v in value) + "]"
    return json.dumps(value, allow_nan=False)


# -- comparison results ------------------------------------------------------------------------


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

    baseline: Baseline
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
        if b.mode is Mode.EXACT and b.environment and b.environment != _env():
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


__all__ = ["Baseline", "BaselineError", "Comparison", "Mismatch", "Mode", "envelope",
           "first_divergence", "load", "record", "series_of", "smooth"]
