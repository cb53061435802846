"""The static checks added with the ranking, each on a recipe that shows it and on a healthy
one.  ``check_recipe`` builds the model but trains nothing."""

from __future__ import annotations

import numpy as np
import pytest

from tests.doctor import zoo
from trainspec.doctor import RISKS, check_recipe
from trainspec.doctor.static import STATIC_CHECKS


def found(recipe) -> set[str]:
    return {str(f.symptom) for f in check_recipe(recipe)}


SHOWING = {
    "symmetric_initialisation": lambda: zoo.mutant("init_zeros"),
    "output_mismatch": lambda: zoo.ZOO_BY_NAME["multi_label_softmax"].broken(),
    "preprocessing_mismatch": lambda: zoo.ZOO_BY_NAME["val_unscaled"].broken(),
    "frozen_variables": lambda: zoo.ZOO_BY_NAME["frozen_hidden"].broken(),
    "bottleneck": lambda: zoo.ZOO_BY_NAME["bottleneck"].broken(),
}


@pytest.mark.parametrize("name", sorted(SHOWING))
def test_static_check_on_a_showing_and_a_healthy_recipe(name):
    assert name in found(SHOWING[name]())
    assert found(zoo.BASE) == set()


def test_every_static_check_has_a_case():
    assert {c.name for c in STATIC_CHECKS} - {"output_vs_loss", "linear_model",
                                              "excessive_dropout", "unscaled_inputs",
                                              "loss_on_classes"} == set(SHOWING)


def test_fewer_output_units_than_classes():
    recipe = zoo.BASE.replace(model=zoo.mlp("three_out", out=3))
    finding = next(f for f in check_recipe(recipe) if str(f.symptom) == "output_mismatch")
    assert finding.evidence == {"classes": 4, "output_units": 3}


@pytest.mark.parametrize("name", ["multi_label_softmax", "val_unscaled", "frozen_hidden",
                                  "bottleneck", "init_zeros"])
def test_the_fixed_side_of_each_pair_passes_every_static_check(name):
    assert found(zoo.ZOO_BY_NAME[name].fixed()) == set()


def test_a_regression_loss_on_class_labels():
    # class ids 0-3 against a softmax's [0, 1]: an error; one-hot rows under MSE: a risk
    ids = zoo.ZOO_BY_NAME["mse_on_class_ids"].broken()
    finding = next(f for f in check_recipe(ids) if str(f.symptom) == "output_mismatch")
    assert finding.evidence["target_max"] == 3.0 and "sparse_categorical" in finding.fixes[0]
    x, y = zoo.BLOBS
    one_hot = zoo.BASE.replace(data=(x, np.eye(4, dtype="float32")[y]), loss="mse")
    assert found(one_hot) == {"regression_loss_on_classes"}
    assert "regression_loss_on_classes" in RISKS  # beside a run, only with harm


def test_a_trained_recipe_is_checked_once_and_again_when_its_data_changes():
    import trainspec

    x, y = zoo.BLOBS
    recipe = zoo.BASE.replace(data=(x.copy(), y), steps=5)
    trainspec.train(recipe)  # the engine now knows this recipe object's fingerprint
    first = check_recipe(recipe)
    assert check_recipe(recipe) == first and "unscaled_inputs" not in found(recipe)
    recipe.data[0][:] *= 1000.0  # changed in place: the fingerprint no longer holds
    assert "unscaled_inputs" in found(recipe)
