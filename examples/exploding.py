"""Exploding gradients, and gradient clipping as the fix (the course's training notes and
its notebook on problems of neural networks).

A regression whose targets are in the hundreds, trained with plain SGD: the first gradients are
huge, an update moves the weights by more than their own size ("insanely large weight updates"),
the next gradient is larger still, and the run diverges to Inf/NaN.  Fix: clip the gradient's
norm to 1 (``{"name": "sgd", "clipnorm": 1.0}``), so no single step can move the weights by more
than the learning rate, whatever the gradient.
"""

from __future__ import annotations

import numpy as np

import trainspec


def _regression(n: int = 2048, features: int = 10, scale: float = 100.0, seed: int = 3):
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(n, features)).astype(np.float32)
    w = rng.normal(size=(features, 1))
    y = scale * (np.tanh(x @ w) + 0.1 * rng.normal(size=(n, 1)))
    return x, y.astype(np.float32)


DATA = _regression()


def mlp_regressor():
    import keras

    return keras.Sequential([
        keras.Input((10,)), keras.layers.Dense(64, activation="relu"),
        keras.layers.Dense(64, activation="relu"), keras.layers.Dense(1),
    ], name="mlp_regressor")


broken = trainspec.Recipe(
    model=mlp_regressor, data=DATA, loss="mse", optimizer={"name": "sgd"}, learning_rate=0.05,
    steps=200, batch_size=32, seed=0, name="exploding-broken",
)
fixed = broken.replace(optimizer={"name": "sgd", "clipnorm": 1.0}, name="exploding-fixed")
#: The other clipping the course shows: every gradient component clipped to [-1, 1].
clipvalue = broken.replace(optimizer={"name": "sgd", "clipvalue": 1.0}, name="exploding-clipvalue")

pair = trainspec.Pair(
    "exploding", broken=broken, fixed=fixed,
    cause="targets in the hundreds and plain SGD: the gradients, and the updates, grow at every "
    "step until the run overflows",
    fix="gradient clipping: optimizer={'name': 'sgd', 'clipnorm': 1.0}",
    lesson="the course's training notes and notebook: exploding gradients, gradient clipping",
)
clipvalue_pair = trainspec.Pair(
    "exploding_clipvalue", broken=broken, fixed=clipvalue, cause=pair.cause,
    fix="gradient clipping by value: optimizer={'name': 'sgd', 'clipvalue': 1.0}",
    lesson=pair.lesson,
)
pairs = [pair, clipvalue_pair]
