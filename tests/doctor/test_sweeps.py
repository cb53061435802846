"""The doctor on the curriculum's sweep points (``examples/sweeps.py``): a point that trains well
gets no finding; a point that fails is named by what its sweep varies, and no advice points away
from the sweep's best learning rate.  The learning-rate and activation/initialiser sweeps: the
two whose failing points (rates too high and low, sigmoid and softmax stacks) a rule can name."""

from __future__ import annotations

import pytest

import trainspec
from benchmarks.doctor import SWEEP_CAUSE, point_figures
from examples import sweeps

SWEPT = [sweeps.LEARNING_RATE, sweeps.ACTIVATION_INITIALIZER]


@pytest.fixture(scope="module", params=SWEPT, ids=lambda s: s.name)
def points(request):
    sweep = request.param
    out = []
    for label, source in sweep.points():
        recipe = source() if callable(source) else source  # a Recipe, or a function giving one
        run = trainspec.train(recipe)
        out.append((label, recipe, run, trainspec.diagnose(run, recipe),
                    point_figures(run, recipe)))
    return sweep.name, out


def test_healthy_points_get_no_finding_and_failing_ones_their_sweeps_cause(points):
    name, rows = points
    best = max(rows, key=lambda r: r[4]["score"])[4]
    failing = 0
    for label, recipe, _, diagnosis, fig in rows:
        fails = fig["score"] < fig["chance"] + 0.5 * (best["score"] - fig["chance"])
        if not fails:
            assert diagnosis.healthy, f"{label}: {diagnosis}"
            continue
        failing += 1
        assert diagnosis.primary is not None, f"{label}: failing ({fig['score']:.3g}), nothing found"
        assert diagnosis.primary.family in SWEEP_CAUSE[name], f"{label}: {diagnosis}"
        fixes = [fix for f in diagnosis.findings for fix in f.fixes]
        lr, best_lr = recipe.learning_rate, best["learning_rate"]
        if lr and best_lr and lr != best_lr and fig["optimizer"] == best["optimizer"]:
            away = "raise the learning rate" if lr > best_lr else "lower the learning rate"
            assert not any(away in fix for fix in fixes), f"{label}: {fixes}"
    assert failing, f"{name}: no failing point, the sweep no longer tests a diagnosis"
