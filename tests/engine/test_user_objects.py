"""Models Keras cannot copy (subclassed models, config-less custom layers) passed as objects:
the run trains the user's object and gives it back its initial variables."""

from __future__ import annotations

import keras
import numpy as np

import trainspec
from trainspec.engine import clear_memo

X = np.random.default_rng(0).normal(size=(128, 2)).astype(np.float32)
Y = (X[:, 0] > 0).astype(np.int32)


class Sub(keras.Model):
    def __init__(self):
        super().__init__()
        self.hidden = keras.layers.Dense(8, activation="relu")
        self.out = keras.layers.Dense(2, activation="softmax")

    def call(self, x):
        return self.out(self.hidden(x))


def recipe(model):
    return trainspec.Recipe(model=model, data=(X, Y), loss="sparse_categorical_crossentropy",
                            optimizer="sgd", learning_rate=0.5, steps=30, batch_size=16, seed=0)


def test_a_subclassed_model_object_trains_and_is_given_back_unchanged():
    keras.utils.set_random_seed(1)
    model = Sub()
    model(X[:1])
    before = [w.copy() for w in model.get_weights()]
    first = trainspec.train(recipe(model))
    assert first.steps_recorded == 30 and first.loss.relative_decrease() > 0.1
    after = model.get_weights()
    assert all(np.array_equal(a, b) for a, b in zip(before, after, strict=True))
    clear_memo()
    second = trainspec.train(recipe(model))  # the same object again: the same bits
    np.testing.assert_array_equal(np.asarray(first.loss), np.asarray(second.loss))


def test_an_unbuilt_subclassed_model_is_built_with_its_initial_weights_kept():
    keras.utils.set_random_seed(2)
    model = Sub()
    run = trainspec.train(recipe(model))
    assert run.finite and model.built
    weights = model.get_weights()
    clear_memo()
    again = trainspec.train(recipe(model))
    assert all(np.array_equal(a, b) for a, b in zip(weights, model.get_weights(), strict=True))
    assert again.fingerprint == run.fingerprint
