"""Fluent expectations: failures say what was measured, required, where, and show the curve."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest

import trainspec
from trainspec import Series, SpecFailure, expect
from trainspec.constants import ActivationKind
from trainspec.expect import curve_points
from trainspec.run import TraceMap, UnprobedLayer


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


# -- a check that measured nothing never passes --------------------------------------------------

_SUBCLASSED = UnprobedLayer("net", None, "a subclassed model (Net): activations applied in its "
                            "call() cannot be probed")


@pytest.mark.parametrize("check", ["no_dead_units", "no_saturation", "activations_normalised"])
def test_activation_checks_on_a_model_the_probes_cannot_see_fail_as_not_measured(
        healthy_run, check):
    blind = replace(healthy_run, activations=TraceMap([]), unprobed=(_SUBCLASSED,))
    with pytest.raises(SpecFailure) as info:
        getattr(expect(blind), check)()
    message = str(info.value)
    assert "not measured" in message and "could not probe 'net'" in message
    assert "keras.layers.Activation" in message  # how to expose the layer
    assert info.value.details["measured"] == "nothing"


def test_a_model_without_relu_layers_passes_no_dead_units(healthy_run):
    # a static fact of the model: no ReLU anywhere and nothing hidden from the probes
    no_relu = replace(healthy_run, activations=TraceMap(
        [a for a in healthy_run.activations.list() if str(a.kind) != "relu"]))
    expect(no_relu).no_dead_units().no_saturation()


def test_a_relu_layer_that_could_not_be_probed_fails_even_beside_measured_ones(healthy_run):
    nested = UnprobedLayer("inner_relu", ActivationKind.RELU, "relu inside a nested model")
    with pytest.raises(SpecFailure, match="dead ReLU units not measured"):
        expect(replace(healthy_run, unprobed=(nested,))).no_dead_units()
    # a Lambda beside measured ReLU layers: the measured ones decide (documented)
    lam = UnprobedLayer("lambda", None, "a Lambda layer")
    expect(replace(healthy_run, unprobed=(lam,))).no_dead_units()


def test_layer_checks_without_probed_layers_fail_as_not_measured(healthy_run):
    bare = replace(healthy_run, layers=TraceMap([]))
    with pytest.raises(SpecFailure, match="gradients per layer not measured"):
        expect(bare).gradients_to_reach_first_layer()
    with pytest.raises(SpecFailure, match="update ratios not measured"):
        expect(bare).update_ratios_within()


def test_an_empty_series_fails_as_not_measured():
    with pytest.raises(SpecFailure, match="grad_norm not measured"):
        expect(Series("base.grad_norm", [])).to_stay_above(1e-4)
    with pytest.raises(SpecFailure, match="not measured"):
        expect(Series("loss", [])).to_be_monotonic()


def test_a_subclassed_network_that_is_all_dead_does_not_pass_no_dead_units(blobs):
    import keras

    class Dead(keras.Model):
        def __init__(self):
            super().__init__(name="dead")
            self.hidden, self.out = keras.layers.Dense(8), keras.layers.Dense(3)

        def call(self, x):  # every hidden unit is below zero: 100% dead
            return keras.ops.softmax(self.out(keras.ops.relu(self.hidden(x) - 100.0)))

    run = trainspec.train(trainspec.Recipe(model=Dead, data=blobs, steps=5, optimizer="sgd",
                                           loss="sparse_categorical_crossentropy"))
    with pytest.raises(SpecFailure, match="(?s)dead ReLU units not measured.*subclassed model"):
        expect(run).no_dead_units()


@pytest.mark.parametrize("n", [201, 300, 400, 1234])
def test_report_curves_are_the_median_of_each_part(n):
    values = np.random.default_rng(n).normal(size=n)
    values[0] = np.nan  # a non-finite part stays non-finite, drawn as a gap
    expected = [np.median(part) for part in np.array_split(values, 200)]
    points = curve_points(Series("loss", values))
    assert len(points) == 200 and points[0] is None
    assert points[1:] == expected[1:]
