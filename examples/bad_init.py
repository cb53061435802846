"""Fail3 (the course's Fail exercise): weights initialised uniformly in [-0.01, 0.0] under ReLU.

The pixels are >= 0 and every weight is <= 0, so every first-layer pre-activation is <= 0: every
ReLU outputs 0 and passes no gradient back; the hidden layers never learn.  Fix: uniform in
[-0.01, +0.01], so half the weights are positive and units start alive.
"""

from __future__ import annotations

import trainspec
from examples._models import DIGITS, dense_net


def _uniform(low: float, high: float):
    def make():
        import keras

        return keras.initializers.RandomUniform(low, high, seed=0)

    return make


broken = trainspec.Recipe(
    model=dense_net("relu_uniform_neg", units=256, depth=2, initializer=_uniform(-0.01, 0.0)),
    data=DIGITS, loss="sparse_categorical_crossentropy", optimizer="sgd", learning_rate=0.1,
    steps=200, batch_size=32, metrics=["accuracy"], seed=0, name="bad_init-broken",
)
fixed = broken.replace(
    model=dense_net("relu_uniform_sym", units=256, depth=2, initializer=_uniform(-0.01, 0.01)),
    name="bad_init-fixed",
)

pair = trainspec.Pair(
    "bad_init", broken=broken, fixed=fixed,
    cause="weights uniform in [-0.01, 0.0] on non-negative pixels: every ReLU starts (and stays) "
    "dead, no gradient reaches the hidden layers",
    fix="weights uniform in [-0.01, +0.01]",
    lesson="the course's Fail exercise, Fail3", alias="Fail3",
)
