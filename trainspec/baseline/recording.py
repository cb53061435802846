"""Recording a baseline: one run stored as it is (``exact``, ``close``), or a seed envelope.

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
until the smoothed loss halves; each layer's median gradient norm).

Example:
    >>> from trainspec import baseline                                  # doctest: +SKIP
    >>> recorded = baseline.record(recipe, series=["loss", "metrics"])  # 5 seeds
    >>> recorded.dump("baselines/my_recipe.json")
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from typing import Any

import numpy as np

from trainspec.baseline.format import Mode, round1, round_all, versions
from trainspec.baseline.series import (
    DEFAULT_SERIES,
    BaselineError,
    default_smoothing,
    figures_of,
    layers_of,
    parse_groups,
    selects_something,
    series_of,
    smooth,
)
from trainspec.baseline.trajectory import Baseline

DEFAULT_SEEDS = 5
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
    groups = parse_groups(series)
    if run is None:
        run = train(recipe)
    if mode is not Mode.ENVELOPE:
        current = series_of(run, groups)
        selects_something(run, groups, current)
        data = {name: {"steps": s.tolist(), "values": [float(x) for x in v]}
                for name, (s, v) in current.items()}
        return Baseline(mode, groups, len(run.loss), [run.seed], 1, data, {}, run.label, spec,
                        [run.fingerprint], versions(), layers_of(run))
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
    groups = parse_groups(groups)
    steps = len(runs[0].loss)
    if any(len(r.loss) != steps for r in runs):
        lengths = sorted({len(r.loss) for r in runs})
        raise BaselineError(f"the seeds' runs recorded different step counts {lengths} (a run "
                            "stopped early or diverged): a band needs equal lengths")
    window = smoothing or default_smoothing(steps)
    per_run = [series_of(r, groups) for r in runs]
    selects_something(runs[0], groups, per_run[0])
    factor = prediction_factor(len(runs))
    names = sorted(set.intersection(*(set(p) for p in per_run)))
    data: dict[str, dict[str, list[float]]] = {}
    for name in names:
        stack = np.stack([smooth(p[name][1], window) for p in per_run])
        mean = stack.mean(axis=0)
        sd = stack.std(axis=0, ddof=1)
        lo = np.minimum(stack.min(axis=0), mean - factor * sd)
        hi = np.maximum(stack.max(axis=0), mean + factor * sd)
        data[name] = {"steps": per_run[0][name][0].tolist(), "mean": round_all(mean),
                      "lo": round_all(lo), "hi": round_all(hi)}
    figures: dict[str, dict[str, Any]] = {}
    per_fig = [figures_of(r, groups, window) for r in runs]
    for name in sorted(set.intersection(*(set(f) for f in per_fig))):
        values = np.array([f[name] for f in per_fig])
        mean, sd = float(values.mean()), float(values.std(ddof=1))
        figures[name] = {"values": round_all(values), "mean": round1(mean),
                         "lo": round1(min(values.min(), mean - factor * sd)),
                         "hi": round1(max(values.max(), mean + factor * sd))}
    return Baseline(Mode.ENVELOPE, groups, steps, [r.seed for r in runs], window, data, figures,
                    recipe, spec, [r.fingerprint for r in runs], versions(), layers_of(runs[0]))
