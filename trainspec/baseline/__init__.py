"""Trajectory baselines: record how a recipe trains today, check a run against it after a refactor.

A refactor that is mathematically the same changes a training curve by float noise that grows
over steps, so the default tolerance is a **seed envelope**: per step, a band that one more
seed's run would stay inside 99% of the time (how it is computed: :mod:`.recording`; how a run
is checked against it, with a margin and a budget of steps outside: :mod:`.trajectory`).

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
