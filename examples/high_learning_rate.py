"""Fail1: a deep, narrow network trained with a learning rate far too high.

The updates overshoot, the loss climbs or turns NaN instead of falling.  Fix: a lower learning
rate, wider layers and only three of them.
"""

from __future__ import annotations

import trainspec
from trainspec import datasets

DATA = datasets.blobs(n=2048, classes=4, features=20, spread=1.0, seed=1)


def deep_narrow():
    import keras  # imported here so collecting specs does not import TensorFlow

    layers = [keras.Input((20,))]
    layers += [keras.layers.Dense(100, activation="relu") for _ in range(10)]
    layers += [keras.layers.Dense(4, activation="softmax")]
    return keras.Sequential(layers)


def wide_shallow():
    import keras  # imported here so collecting specs does not import TensorFlow

    return keras.Sequential(
        [keras.Input((20,))]
        + [keras.layers.Dense(256, activation="relu") for _ in range(3)]
        + [keras.layers.Dense(4, activation="softmax")]
    )


broken = trainspec.Recipe(
    model=deep_narrow, data=DATA, loss="sparse_categorical_crossentropy", optimizer="sgd",
    learning_rate=3.0, steps=300, batch_size=32, metrics=["accuracy"], name="fail1-broken",
)
fixed = broken.replace(model=wide_shallow, learning_rate=0.05, name="fail1-fixed")

pair = trainspec.Pair(
    "high_learning_rate", broken=broken, fixed=fixed,
    cause="learning rate 3.0 on a 10-layer, 100-unit network: every step overshoots and the "
    "loss diverges",
    fix="learning rate 0.05, 256-unit layers, 3 hidden layers",
    lesson="seeds/000 Fail1",
)
