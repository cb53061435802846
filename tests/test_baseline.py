"""trainspec.baseline: recording, the three tolerance modes, the file format and messages."""

from __future__ import annotations

import json

import numpy as np
import pytest

import trainspec
from trainspec import baseline
from trainspec.baseline import BaselineError, Mode, first_divergence, prediction_factor, smooth


def test_smoothing_and_statistics():
    assert smooth(np.array([0.0, 3.0, 0.0, 3.0]), 3).tolist() == [1.5, 1.0, 2.0, 1.5]
    assert smooth(np.arange(5.0), 1).tolist() == [0, 1, 2, 3, 4]
    assert round(prediction_factor(5), 2) == 5.04 and prediction_factor(100) < 2.7
    assert first_divergence([1, 2, 3], [1, 2, 3]) is None
    assert first_divergence([1, 2, 3], [1, 2.5, 3]) == 1
    assert first_divergence([1, 2], [1, 2, 3]) == 2
    assert first_divergence([1.0, 2.0], [1.0, 2.0 + 1e-9], rtol=1e-6) is None


def test_exact_mode_is_bitwise(healthy, healthy_run, tmp_path):
    recorded = baseline.record(healthy, mode="exact", run=healthy_run, series="all")
    path = recorded.dump(tmp_path / "b.json")
    text = path.read_text()
    assert text.startswith('{"trainspec_baseline": 1,\n') and text.endswith("}\n")
    loaded = baseline.load(path)
    assert loaded.check(healthy_run).ok  # floats survive the JSON text exactly
    changed = trainspec.train(healthy.replace(learning_rate=0.1000001))
    comparison = loaded.check(changed)
    assert not comparison.ok
    loss = next(m for m in comparison.mismatches if m.series == "loss")
    assert loss.first_step == 1 and loss.kind == "exact"
    message = comparison.message(accept="pytest x --trainspec-update-baselines")
    assert "values differ" in message and "largest |diff|" in message
    assert "exact (bitwise)" in message and "--trainspec-update-baselines" in message


def test_close_mode_uses_rtol_and_atol(healthy, healthy_run):
    recorded = baseline.record(healthy, mode=Mode.CLOSE, run=healthy_run, series=["loss"])
    changed = trainspec.train(healthy.replace(learning_rate=0.1000001))
    assert not recorded.check(changed, rtol=0, atol=0).ok
    assert recorded.check(changed, rtol=1e-3, atol=1e-6).ok
    assert "close (rtol 0.001" in recorded.check(changed, rtol=1e-3).tolerance()


def test_envelope_bands_contain_their_own_seeds(healthy):
    recorded = baseline.record(healthy.replace(steps=40), seeds=3, series=["loss", "metrics"])
    assert recorded.seeds == [0, 1, 2] and recorded.smoothing == 5
    band = recorded.series["loss"]
    assert all(lo <= m <= hi for lo, m, hi in zip(band["lo"], band["mean"], band["hi"], strict=True))
    assert {"final_loss", "steps_to_halve_loss", "final:accuracy"} <= set(recorded.figures)
    for seed in recorded.seeds:
        assert recorded.check(trainspec.train(healthy.replace(steps=40, seed=seed))).ok
    again = baseline.Baseline.from_json(json.loads(recorded.dumps()))
    assert again.series == json.loads(recorded.dumps())["series"]


def test_bad_inputs_say_what_is_wrong(healthy, healthy_run, tmp_path):
    with pytest.raises(BaselineError, match="unknown series 'weights'"):
        baseline.record(healthy, series=["weights"], run=healthy_run)
    with pytest.raises(BaselineError, match="at least 2 seeds"):
        baseline.record(healthy, seeds=1, run=healthy_run)
    (tmp_path / "x.json").write_text('{"trainspec_baseline": 99}')
    with pytest.raises(BaselineError, match="not a trainspec baseline of version 1"):
        baseline.load(tmp_path / "x.json")
    with pytest.raises(BaselineError, match="series val select nothing in run 'healthy'"):
        baseline.record(healthy, mode="exact", run=healthy_run, series=["val"])
    loss_only = baseline.record(healthy, mode="exact", run=healthy_run, series=["loss"])
    with pytest.raises(BaselineError, match="recorded without series metrics"):
        loss_only.check(healthy_run, groups=["metrics"])
