"""Initialisation matched to the activation: Glorot for sigmoid/tanh, He for ReLU, LeCun for
SELU (the course's training notes and its notebook on problems of neural networks).

Glorot keeps the variance of a layer's output equal to its input's for activations symmetric
around 0; ReLU zeroes half of its inputs, so under Glorot each ReLU layer halves the signal's
variance and after 12 layers about 2% of its scale is left, forwards and backwards.  He initialisation
doubles the variance (2 / fan_in) to compensate.  The broken model is a 12-layer ReLU network
with ``glorot_normal``, the fixed one the same network with ``he_normal``.
"""

from __future__ import annotations

import trainspec
from examples._models import DIGITS, dense_net

broken = trainspec.Recipe(
    model=dense_net("relu_glorot_12x64", units=64, depth=12, initializer="glorot_normal"),
    data=DIGITS, loss="sparse_categorical_crossentropy", optimizer="sgd", learning_rate=0.05,
    steps=200, batch_size=32, metrics=["accuracy"], seed=0, name="initialisation-broken",
)
fixed = broken.replace(
    model=dense_net("relu_he_12x64", units=64, depth=12, initializer="he_normal"),
    name="initialisation-fixed",
)

pair = trainspec.Pair(
    "initialisation", broken=broken, fixed=fixed,
    cause="glorot_normal under ReLU in 12 layers: each layer halves the signal's variance, the "
    "activations and gradients shrink through depth",
    fix="he_normal (variance 2 / fan_in) for ReLU layers",
    lesson="the course's training notes and notebook: Glorot/He/LeCun initialisation",
)
