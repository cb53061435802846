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

The package: :mod:`~trainspec.baseline.series` (what a selection compares, smoothing, summary
figures), :mod:`~trainspec.baseline.recording` (runs to bands), :mod:`~trainspec.baseline.trajectory`
(the recorded baseline and its check), :mod:`~trainspec.baseline.comparison` (what a check
found, in words) and :mod:`~trainspec.baseline.format` (the file).

Example:
    >>> from trainspec import baseline                                  # doctest: +SKIP
    >>> recorded = baseline.record(recipe, series=["loss", "metrics"])  # 5 seeds
    >>> recorded.dump("baselines/my_recipe.json")
    >>> comparison = baseline.load("baselines/my_recipe.json").check(trainspec.train(recipe))
    >>> comparison.ok
    True
"""

from trainspec.baseline.comparison import Comparison, FigureMismatch, Mismatch, first_divergence
from trainspec.baseline.format import BASELINE_VERSION, VERSION_KEY, Mode
from trainspec.baseline.recording import DEFAULT_SEEDS, envelope, prediction_factor, record
from trainspec.baseline.series import (
                                       DEFAULT_SERIES,
                                       GROUPS,
                                       BaselineError,
                                       default_smoothing,
                                       figures_of,
                                       parse_groups,
                                       series_of,
                                       smooth,
)
from trainspec.baseline.trajectory import DEFAULT_BUDGET, DEFAULT_MARGIN, Baseline, load

__all__ = ["BASELINE_VERSION", "DEFAULT_BUDGET", "DEFAULT_MARGIN", "DEFAULT_SEEDS",
           "DEFAULT_SERIES", "GROUPS", "VERSION_KEY", "Baseline", "BaselineError", "Comparison",
           "FigureMismatch", "Mismatch", "Mode", "default_smoothing", "envelope", "figures_of",
           "first_divergence", "load", "parse_groups", "prediction_factor", "record",
           "series_of", "smooth"]
