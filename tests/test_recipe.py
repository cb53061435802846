"""Recipe validation: every bad value is rejected with an error naming the field."""

from __future__ import annotations

import numpy as np
import pydantic
import pytest

import trainspec
from tests.conftest import small_mlp

X = np.zeros((64, 2), dtype=np.float32)
Y = np.zeros(64, dtype=np.int32)


def make(**changes):
    fields = dict(model=small_mlp(), data=(X, Y), loss="sparse_categorical_crossentropy",
                  optimizer="sgd", steps=10, batch_size=8)
    fields.update(changes)
    return trainspec.Recipe(**fields)


@pytest.mark.parametrize(
    ("changes", "field", "words"),
    [
        ({"steps": 0}, "steps", "greater than 0"),
        ({"steps": -5}, "steps", "greater than 0"),
        ({"batch_size": 65}, None, "larger than the 64 training samples"),
        ({"optimizer": "adamm"}, "optimizer", "unknown optimizer 'adamm'"),
        ({"optimizer": {"learning_rate": 0.1}}, "optimizer", "needs a 'name'"),
        ({"loss": "crossentropy_of_doom"}, "loss", "unknown loss"),
        ({"metrics": ["acuracy"]}, "metrics", "unknown metric 'acuracy'"),
        ({"model": 42}, "model", "keras.Model or a zero-argument callable"),
        ({"model": lambda width: None}, "model", "requires: width"),
        ({"data": (X, Y[:10])}, "data", "64 samples but y has 10"),
        ({"data": X}, "data", "(x, y) tuple"),
        ({"data": (np.array(["a", "b"]), np.array([0, 1]))}, "data", "numeric"),
        ({"learning_rate": 0.0}, "learning_rate", "greater than 0"),
        ({"validation_split": 1.0}, "validation_split", "less than 1"),
        ({"seed": -1}, "seed", "greater than or equal to 0"),
    ],
)
def test_bad_values_name_the_field(changes, field, words):
    with pytest.raises(pydantic.ValidationError) as info:
        make(**changes)
    text = str(info.value)
    assert words in text
    if field is not None:
        assert info.value.errors()[0]["loc"][0] == field


@pytest.mark.parametrize("bad", [np.nan, np.inf, -np.inf])
def test_non_finite_data_is_rejected_with_its_position(bad):
    x = X.copy()
    x[3, 1] = bad
    with pytest.raises(pydantic.ValidationError, match=r"1 NaN/Inf value\(s\), the first at index \(3, 1\)"):
        make(data=(x, Y))


def test_non_finite_validation_data_is_rejected():
    y = np.full(8, np.nan)
    with pytest.raises(pydantic.ValidationError, match="validation_data y contains"):
        make(validation_data=(X[:8], y))


def test_optimizer_names_are_case_insensitive_like_keras():
    assert make(optimizer="SGD").optimizer == "SGD"
    assert make(optimizer={"name": "Adam", "learning_rate": 0.01}).optimizer["name"] == "Adam"


def test_split_takes_the_last_fraction_like_fit():
    x = np.arange(20, dtype=np.float32).reshape(10, 2)
    (train_x, _), (val_x, _) = make(data=(x, np.zeros(10)), batch_size=2,
                                    validation_split=0.3).split()
    assert train_x.shape[0] == 7 and val_x[0, 0] == 14.0


def test_replace_validates_the_copy_and_keeps_the_original():
    recipe = make()
    assert recipe.replace(learning_rate=0.5).learning_rate == 0.5
    assert recipe.learning_rate is None
    with pytest.raises(pydantic.ValidationError):
        recipe.replace(steps=0)


def test_recipes_are_frozen():
    with pytest.raises(pydantic.ValidationError):
        make().steps = 3


def test_callbacks_need_an_evaluation_interval():
    import keras

    with pytest.raises(pydantic.ValidationError, match="eval_every"):
        make(callbacks=[keras.callbacks.EarlyStopping()], validation_split=0.25)


def test_known_names_match_keras():
    # The name lists let recipes validate without importing TensorFlow; keep them in sync.
    from keras.src.losses import ALL_OBJECTS_DICT as losses
    from keras.src.optimizers import ALL_OBJECTS_DICT as optimizers

    from trainspec import compile_args as module

    internal = {"optimizer", "lossscaleoptimizer", "multioptimizer", "optimizermap",
                "schedulefreeadamw"}
    assert module.KERAS_OPTIMIZERS <= set(optimizers)
    assert set(optimizers) - internal <= module.KERAS_OPTIMIZERS
    assert module.KERAS_LOSSES <= set(losses)
    assert set(losses) - {"Loss", "LossFunctionWrapper"} <= module.KERAS_LOSSES
