"""Fluent expectations: failures say what was measured, required, where, and show the curve."""

from __future__ import annotations

import numpy as np
import pytest

import trainspec
from trainspec import Series, SpecFailure, expect


def test_series_expectations_pass_and_chain():
    loss = Series("loss", np.linspace(2.0, 0.2, 100))
    assert expect(loss).to_fall_by(0.5).to_end_below(0.5).to_stay_above(0.0).to_be_monotonic()


@pytest.mark.parametrize(
    ("call", "words"),
    [
        (lambda e: e.to_fall_by(0.9), "loss did not fall by 90%: measured"),
        (lambda e: e.to_end_below(0.1), "did not end below 0.1"),
        (lambda e: e.to_stay_below(1.5), "first at step 0"),
        (lambda e: e.to_reach_below(0.1, within=10), "never went below 0.1 within 10 steps"),
        (lambda e: e.to_be_monotonic(decreasing=False), "not monotonically increasing"),
    ],
)
def test_series_failures_explain_themselves(call, words):
    loss = Series("loss", np.linspace(2.0, 1.0, 50))
    with pytest.raises(SpecFailure) as info:
        call(expect(loss))
    message = str(info.value)
    assert words in message and "required" in message
    assert f"loss: {loss.change().describe()}" in message and message.count("█") <= 40
    details = info.value.details
    assert details["curve_name"] == "loss" and len(details["curve"]) == 50
    assert details["change"] == loss.change().to_json()


def test_a_failure_to_fall_reads_the_change_as_the_series_does():
    loss = Series("loss", np.r_[np.full(20, 2.31), np.full(180, 2.30)])
    with pytest.raises(SpecFailure) as info:
        expect(loss).to_fall_by(0.5)
    message = str(info.value)
    assert message.startswith("loss did not fall by 50%: measured a 0.43% decrease, required a "
                              "decrease of at least 50%")
    assert ("median of the first 20 steps 2.31 -> median of the last 20 steps 2.30, a 0.43% "
            "decrease") in message
    assert info.value.details["measured"] == pytest.approx(loss.relative_decrease())


def test_spec_failure_is_an_assertion_error():
    assert issubclass(SpecFailure, AssertionError)


def test_run_expectations_on_a_healthy_run(healthy_run):
    (expect(healthy_run).to_be_finite().loss_to_fall_by(0.5)
     .gradients_to_reach_first_layer().no_dead_units().no_saturation()
     .accuracy_above_chance(margin=0.3).update_ratios_within(1e-5, 1.0))


def test_run_failure_names_layer_and_seed(healthy_run):
    with pytest.raises(SpecFailure) as info:
        expect(healthy_run).gradients_to_reach_first_layer(min_ratio=1e6)
    message = str(info.value)
    assert "gradients vanish before the first layer" in message
    assert "where: layer 'dense'" in message and "run 'healthy', seed 0" in message


def test_accuracy_needs_the_metric_recorded(blobs):
    from tests.conftest import small_mlp

    run = trainspec.train(trainspec.Recipe(model=small_mlp(), data=blobs, steps=20,
                                           loss="sparse_categorical_crossentropy", optimizer="sgd"))
    # not a KeyError from deep inside: a failure the report shows, saying what to add
    with pytest.raises(SpecFailure, match="(?s)accuracy not measured.*metric 'accuracy' was "
                       "not recorded"):
        expect(run).accuracy_above_chance()


def test_expect_rejects_other_subjects():
    with pytest.raises(TypeError, match="Run or a Series"):
        expect([1, 2, 3])
