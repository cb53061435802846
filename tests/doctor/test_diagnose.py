"""The doctor: each detector on a planted case and on a healthy run."""

from __future__ import annotations

import dataclasses
import json
import math

import numpy as np
import pytest

import trainspec
from tests.conftest import small_mlp
from tests.doctor.zoo import wrong_way
from trainspec import mutants
from trainspec.doctor import Symptom, Thresholds, check_recipe, diagnose, project_thresholds
from trainspec.series import Series


def symptoms(diagnosis) -> set[str]:
    return {str(s) for s in diagnosis.symptoms}


@pytest.fixture(scope="module")
def recipe(healthy):
    return healthy.replace(steps=80)


@pytest.fixture(scope="module")
def trained(recipe):
    return trainspec.train(recipe)


def with_loss(run, values, acc=None):
    values = np.asarray(values, dtype=np.float32)
    steps = np.arange(len(values))
    metrics = {} if acc is None else {"accuracy": Series("accuracy", np.full(len(values), acc), steps)}
    layers = [dataclasses.replace(lt, **{k: Series(k, np.full(len(values), 0.5 if k == "grad_norm"
                                                               else 1e-3), steps)
                                         for k in ("grad_norm", "weight_norm", "update_ratio")})
              for lt in run.layers.list()]
    return dataclasses.replace(run, loss=Series("loss", values, steps), metrics=metrics,
                               layers=trainspec.run.TraceMap(layers),
                               activations=trainspec.run.TraceMap([]))


def test_healthy_run_and_recipe_have_no_findings(trained, recipe):
    diagnosis = diagnose(trained, recipe)
    assert diagnosis.findings == [], str(diagnosis)
    assert diagnosis.healthy


def test_symptom_str_is_its_name():
    assert str(Symptom.DEAD_UNITS) == "dead_units"
    assert {str(s) for s in Symptom} >= {
        "non_finite", "diverging_loss", "loss_not_decreasing", "oscillating_loss",
        "slow_convergence", "vanishing_gradient", "exploding_gradient", "dead_units",
        "saturated_units", "unchanged_weights", "update_ratio_out_of_range",
        "accuracy_at_chance", "probabilities_as_logits"}


def test_huge_learning_rate_is_non_finite_and_exploding(recipe):
    mutant = mutants.apply("lr_x100", recipe).recipe.replace(learning_rate=50.0)
    diagnosis = diagnose(trainspec.train(mutant))
    assert {"non_finite", "exploding_gradient"} <= symptoms(diagnosis)
    assert diagnosis.primary.family == "exploding_gradient"
    finding = next(f for f in diagnosis.findings if f.symptom is Symptom.NON_FINITE)
    assert finding.step is not None
    # with the recipe, SGD at 50 is named as the cause of the explosion
    with_recipe = diagnose(trainspec.train(mutant), mutant)
    assert with_recipe.primary.symptom is Symptom.LEARNING_RATE_TOO_HIGH
    json.dumps(diagnosis.to_json(), allow_nan=False)  # NaN-free


def test_tiny_learning_rate_is_flat_at_chance_with_tiny_updates(recipe):
    diagnosis = diagnose(trainspec.train(mutants.apply("lr_div_1e4", recipe).recipe), recipe)
    assert {"loss_not_decreasing", "accuracy_at_chance", "update_ratio_out_of_range"} <= symptoms(
        diagnosis)
    chance = next(f for f in diagnosis.findings if f.symptom is Symptom.ACCURACY_AT_CHANCE)
    assert chance.evidence["chance"] == pytest.approx(1 / 3, abs=0.01)


def test_negative_relu_bias_kills_units_and_freezes_weights(recipe):
    diagnosis = diagnose(trainspec.train(mutants.apply("relu_negative_bias", recipe).recipe))
    assert {"dead_units", "unchanged_weights"} <= symptoms(diagnosis)
    dead = next(f for f in diagnosis.findings if f.symptom is Symptom.DEAD_UNITS)
    assert min(dead.evidence["dead_fraction"]) >= 0.7


def test_deep_sigmoid_stack_vanishes(recipe):
    deep = recipe.replace(model=small_mlp("sigmoid", width=16, depth=9), steps=40)
    diagnosis = diagnose(trainspec.train(deep))
    assert "vanishing_gradient" in symptoms(diagnosis)
    finding = next(f for f in diagnosis.findings if f.symptom is Symptom.VANISHING_GRADIENT)
    assert finding.layer and finding.evidence["ratio"] <= 1e-3


def test_sigmoid_on_unscaled_inputs_saturates(recipe):
    sig = recipe.replace(model=small_mlp("sigmoid"), steps=30)
    diagnosis = diagnose(trainspec.train(mutants.apply("unscaled_inputs", sig).recipe))
    assert "saturated_units" in symptoms(diagnosis)
    assert "saturated_units" not in symptoms(diagnose(trainspec.train(sig)))


def test_stop_gradient_leaves_the_body_unchanged(recipe):
    diagnosis = diagnose(trainspec.train(mutants.apply("stop_gradient_head", recipe).recipe))
    finding = next(f for f in diagnosis.findings if f.symptom is Symptom.UNCHANGED_WEIGHTS)
    assert len(finding.evidence["layers"]) == 2  # both hidden layers, not the head


def test_curve_detectors_on_planted_curves(trained):
    n = 80
    rng = np.random.default_rng(0)
    falling = 1.1 * np.exp(-np.arange(n) / 15) + 0.05 + 0.01 * rng.random(n)
    assert symptoms(diagnose(with_loss(trained, falling, acc=0.95))) == set()
    rising = np.linspace(1.1, 4.0, n)
    assert "diverging_loss" in symptoms(diagnose(with_loss(trained, rising)))
    rebound = np.concatenate([np.linspace(1.1, 0.2, n // 2), np.linspace(0.2, 0.9, n // 2)])
    assert "diverging_loss" in symptoms(diagnose(with_loss(trained, rebound)))
    bouncing = 1.0 + 0.5 * np.sign(np.sin(np.arange(n)))
    assert "oscillating_loss" in symptoms(diagnose(with_loss(trained, bouncing, acc=0.6)))
    slow = np.linspace(1.1, 0.9, n)
    assert "slow_convergence" in symptoms(diagnose(with_loss(trained, slow, acc=0.6)))
    assert "loss_not_decreasing" in symptoms(diagnose(with_loss(trained, np.full(n, 1.1), acc=0.6)))


def test_initial_loss_far_above_log_c(trained):
    values = np.concatenate([[40.0], np.linspace(3.0, 1.3, 79)])  # not recovered: above log C
    assert "bad_initial_loss" in symptoms(diagnose(with_loss(trained, values, acc=0.5)))


def test_probabilities_as_logits_floor(trained):
    c = trained.n_classes
    floor = math.log(1 + (c - 1) / math.e)
    at_floor = np.concatenate([np.linspace(math.log(c), floor * 1.01, 40), np.full(40, floor * 1.01)])
    assert "probabilities_as_logits" in symptoms(diagnose(with_loss(trained, at_floor, acc=0.97)))
    below = np.linspace(math.log(c), floor * 0.3, 80)
    assert "probabilities_as_logits" not in symptoms(diagnose(with_loss(trained, below, acc=0.97)))


def test_static_checks_on_planted_recipes(recipe):
    assert check_recipe(recipe) == []
    for operator, symptom in [("softmax_logits_loss", "probabilities_as_logits"),
                              ("no_activation", "linear_model"),
                              ("dropout_095", "excessive_dropout"),
                              ("unscaled_inputs", "unscaled_inputs")]:
        found = {str(f.symptom) for f in check_recipe(mutants.apply(operator, recipe).recipe)}
        assert symptom in found, operator
    x, y = recipe.data
    ints = recipe.replace(data=((x * 10).astype(np.int32), y))
    assert "unscaled_inputs" in {str(f.symptom) for f in check_recipe(ints)}


def test_static_risks_need_harm_in_the_run(trained, recipe):
    # dropout 0.95 and x255 inputs are risks: beside a run that trains well they are not reported
    for operator in ("dropout_095", "unscaled_inputs"):
        risky = mutants.apply(operator, recipe).recipe
        assert check_recipe(risky)
        assert diagnose(trained, risky).healthy
    linear = mutants.apply("no_activation", recipe).recipe  # an error, reported regardless
    assert "linear_model" in symptoms(diagnose(trained, linear))


def test_custom_train_step_with_softmax_output_is_flagged(recipe):
    def train_step(model, optimizer, x, y):
        import tensorflow as tf

        with tf.GradientTape() as tape:
            probs = model(x, training=True)
            loss = tf.reduce_mean(
                tf.nn.sparse_softmax_cross_entropy_with_logits(labels=y, logits=probs))
        grads = tape.gradient(loss, model.trainable_variables)
        optimizer.apply_gradients(zip(grads, model.trainable_variables, strict=True))
        return loss

    custom = recipe.replace(loss=None, train_step=train_step)
    finding = next(f for f in check_recipe(custom) if f.symptom is Symptom.PROBABILITIES_AS_LOGITS)
    assert "train_step" in finding.evidence["loss"]
    assert finding.to_json()["fixes"]


def test_thresholds_per_call_and_per_project(trained, tmp_path):
    dead_free = diagnose(trained)
    assert dead_free.healthy
    strict = diagnose(trained, dead_fraction=1e-9)
    assert "dead_units" in symptoms(strict) or not trained.activations.of_kind("relu")
    with pytest.raises(ValueError):
        Thresholds(dead_fraction=2.0)
    (tmp_path / "pyproject.toml").write_text("[tool.trainspec.doctor]\ndead_fraction = 0.95\n")
    assert project_thresholds(tmp_path).dead_fraction == 0.95
    assert project_thresholds(tmp_path).vanishing_ratio == 1e-3  # the others keep their defaults


def test_overfitting_when_the_final_validation_loss_is_worse_than_the_best(trained):
    n = 80
    falling = 1.1 * np.exp(-np.arange(n) / 15) + 0.05
    at = np.array([19, 39, 59, 79])
    base = with_loss(trained, falling, acc=0.95)

    def with_val(values):
        history = {"val_loss": Series("val_loss", np.asarray(values, dtype=np.float32), at)}
        return dataclasses.replace(base, val_history=history, val={"val_loss": values[-1]})

    assert "overfitting" in symptoms(diagnose(with_val([0.9, 0.6, 0.8, 0.95])))
    assert "overfitting" not in symptoms(diagnose(with_val([0.9, 0.6, 0.58, 0.6])))


@pytest.mark.parametrize(
    ("pair", "expected", "family"),
    [("bad_init", {"dead_units"}, "initialisation"),
     ("exploding", {"non_finite", "exploding_gradient"}, "exploding_gradient"),
     ("exploding_clipvalue", {"non_finite"}, "exploding_gradient"),
     ("input_noise", {"preprocessing_mismatch", "accuracy_at_chance"}, "data"),
     ("softmax_logits", {"probabilities_as_logits"}, "output_and_loss"),
     ("momentum", {"ill_conditioned"}, "optimizer"),
     ("transfer_learning", {"generalisation_gap"}, "regularisation"),
     ("selu", {"collapsed_representations"}, "initialisation")],
)
def test_the_doctor_on_curriculum_pairs(pair, expected, family):
    # the cheapest curriculum pairs (~4 s each): the broken model's symptom is named, its
    # primary finding is the family the pair's cause names, and the fixed model, noisy but
    # learning (clipvalue's regression loss), gets no finding
    import examples

    found = next(p for p in examples.PAIRS if p.name == pair)
    broken, fixed = found.recipe("broken"), found.recipe("fixed")
    run = trainspec.train(broken)
    found = diagnose(run, broken)
    assert expected <= symptoms(found)
    assert found.primary.family == family, str(found)  # the cause, named first
    assert wrong_way(found, run, broken) == [], str(found)  # no advice against the measurements
    diagnosis = diagnose(trainspec.train(fixed), fixed)
    assert diagnosis.healthy, str(diagnosis)
