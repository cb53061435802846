"""Mutation operators: what they change, what they keep, and when they do not apply."""

from __future__ import annotations

import numpy as np
import pytest

import trainspec
from trainspec import mutants
from trainspec.constants import MutantStatus, Outcome
from trainspec.pairs import Pair, Target
from trainspec.plugin.mutation import info, parse_selection, status


@pytest.fixture(scope="module")
def recipe(healthy):
    return healthy.replace(steps=40)


def _initial_weights(recipe):
    from trainspec.engine.prepare import build_model, seed_everything

    seed_everything(recipe.seed)
    return build_model(recipe).get_weights()


def test_every_operator_documents_a_fault_and_applies_to_an_mlp(recipe):
    assert len(mutants.OPERATORS) >= 16
    for mutant in mutants.mutate(recipe):
        assert mutant.operator.models and mutant.operator.family
        assert mutant.skipped is None, (mutant.name, mutant.skipped)
        assert mutant.recipe.label.endswith(f"~{mutant.name}")


def test_activation_operator_keeps_the_initial_weights(recipe):
    mutant = mutants.apply("hidden_sigmoid", recipe).recipe
    before, after = _initial_weights(recipe), _initial_weights(mutant)
    assert all(np.array_equal(a, b) for a, b in zip(before, after, strict=True))
    from trainspec.engine.prepare import build_model

    model = build_model(mutant)
    assert [layer.activation.__name__ for layer in model.layers] == ["sigmoid", "sigmoid", "softmax"]


def test_initialiser_and_bias_operators_replace_weights(recipe):
    zeros = _initial_weights(mutants.apply("init_zeros", recipe).recipe)
    assert all(not np.any(w) for w in zeros)
    negative = _initial_weights(mutants.apply("init_uniform_negative", recipe).recipe)
    assert all(((w >= -0.01) & (w <= 0)).all() for w in negative[::2])
    biased = _initial_weights(mutants.apply("relu_negative_bias", recipe).recipe)
    assert np.all(biased[1] == -10.0) and not np.any(biased[-1])  # hidden bias, head untouched


def test_hyperparameter_data_and_optimizer_operators(recipe):
    assert mutants.apply("lr_x100", recipe).recipe.learning_rate == pytest.approx(10.0)
    assert mutants.apply("lr_div_1e4", recipe).recipe.learning_rate == pytest.approx(1e-5)
    x, y = recipe.data
    shuffled = mutants.apply("label_shuffle", recipe).recipe
    assert sorted(shuffled.data[1]) == sorted(y) and not np.array_equal(shuffled.data[1], y)
    assert np.allclose(mutants.apply("unscaled_inputs", recipe).recipe.data[0], x * 255)
    noisy = mutants.apply("input_noise", recipe).recipe.data[0]
    assert noisy.shape == x.shape and not np.allclose(noisy, x)
    assert mutants.apply("tiny_clipvalue", recipe).recipe.optimizer == {
        "name": "sgd", "clipvalue": 1e-5}


def test_operators_that_do_not_apply_are_skipped_with_a_reason(recipe):
    def linear():
        import keras

        return keras.Sequential([keras.Input((2,)), keras.layers.Dense(3, activation="softmax")])

    flat = recipe.replace(model=linear)
    skipped = {m.name: m.skipped for m in mutants.mutate(flat) if m.skipped}
    assert "hidden activation" in skipped["hidden_sigmoid"]
    assert "only one weighted layer" in skipped["stop_gradient_head"]
    assert "no hidden layer with a bias feeds a ReLU" in skipped["relu_negative_bias"]
    mse = recipe.replace(loss="mse", data=(recipe.data[0], np.eye(3)[recipe.data[1]]))
    assert mutants.apply("softmax_logits_loss", mse).skipped


def test_mutant_trains_and_differs_from_the_original(recipe):
    original = trainspec.train(recipe)
    mutant = trainspec.train(mutants.apply("stop_gradient_head", recipe).recipe)
    assert mutant.fingerprint != original.fingerprint
    assert float(mutant.layers.first.update_ratio.median()) == 0.0


def test_status_of_a_spec_on_a_mutant():
    assert status(Outcome.FAILED, True, False) is MutantStatus.KILLED
    assert status(Outcome.ERROR, True, False) is MutantStatus.KILLED  # the spec crashed on it
    assert status(Outcome.ERROR, False, False) is MutantStatus.ERROR  # the mutant did not train
    assert status(Outcome.PASSED, True, False) is MutantStatus.SURVIVED
    assert status(Outcome.PASSED, True, True) is MutantStatus.EQUIVALENT
    assert status(Outcome.SKIPPED, False, False) is MutantStatus.NOT_APPLICABLE


def test_sampling_is_seeded_by_the_recipe_and_bounded():
    selection = parse_selection("all", 2)
    assert len(selection.pool) == len(mutants.OPERATORS)
    picked = selection.sample("digits_mlp")
    assert len(picked) == 2 and picked == selection.sample("digits_mlp")
    assert {selection.sample(f"recipe{i}") for i in range(20)} != {picked}  # varies by recipe
    assert parse_selection("all", 0).sample("x") == selection.pool
    assert parse_selection("huge_l2,lr_x100", "all").pool == ("lr_x100", "huge_l2")
    for bad in (("lr_x1000", 2), ("all", -1), ("all", "many")):
        with pytest.raises(ValueError):
            parse_selection(*bad)


def test_a_mutant_that_trains_like_the_original_is_equivalent(recipe, blobs):
    # zero kernels under ReLU stay zero (no unit is ever active), so an L2 penalty on them is
    # 0: huge_l2 changes the model's config (another fingerprint) but not one recorded number
    def zero_mlp():
        import keras

        return keras.Sequential([keras.Input((2,)),
                                 keras.layers.Dense(8, activation="relu", kernel_initializer="zeros"),
                                 keras.layers.Dense(3, activation="softmax",
                                                    kernel_initializer="zeros")])

    fixed = recipe.replace(model=zero_mlp, name="zero_mlp")
    pair = Pair("zero", broken=fixed.replace(learning_rate=50.0), fixed=fixed)
    mutant = mutants.apply("huge_l2", fixed).recipe
    run = trainspec.train(mutant)
    assert run.fingerprint != trainspec.train(fixed).fingerprint
    target = Target("mutant", "zero", "mutant_huge_l2", lambda: mutant, pair)
    entry = info(target, [run], Outcome.PASSED)
    assert entry["equivalent"] and entry["status"] == "equivalent"
    # a mutant that changes the run is not
    other = trainspec.train(mutants.apply("lr_x100", fixed).recipe)
    assert not info(target, [other], Outcome.PASSED)["equivalent"]
