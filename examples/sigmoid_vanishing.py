"""Fail2 (the course's Fail exercise): sigmoid activations in every hidden layer.

The sigmoid's slope is at most 0.25 and nearly zero in its flat head and tail, so the gradient
that reaches the first layers is tiny and they barely learn ("the gradients of the weight
matrices are extremely low").  Fix: ReLU, whose slope is 1 for positive inputs.
"""

from __future__ import annotations

import trainspec
from examples._models import DIGITS, dense_net

broken = trainspec.Recipe(
    model=dense_net("sigmoid_5x100", units=100, depth=5, activation="sigmoid"), data=DIGITS,
    loss="sparse_categorical_crossentropy", optimizer="sgd", learning_rate=0.05, steps=200,
    batch_size=32, metrics=["accuracy"], seed=0, name="sigmoid_vanishing-broken",
)
fixed = broken.replace(model=dense_net("relu_5x100", units=100, depth=5, activation="relu"),
                       name="sigmoid_vanishing-fixed")

pair = trainspec.Pair(
    "sigmoid_vanishing", broken=broken, fixed=fixed,
    cause="sigmoid in all 5 hidden layers: its slope is <= 0.25, so the first layers receive "
    "almost no gradient and the loss hardly moves",
    fix="ReLU activations",
    lesson="the course's Fail exercise, Fail2", alias="Fail2",
)
