"""SELU with LeCun initialisation keeps a deep network's activations near mean 0 / std 1;
ReLU does not (the course's notebook on problems of neural networks).

SELU's scale and slope are chosen so that, with ``lecun_normal`` weights and standardised
inputs, every layer maps mean 0 / variance 1 to mean 0 / variance 1: the network normalises
itself.  ReLU outputs are never negative, so their mean sits well above 0 and the signal's
scale drifts from layer to layer.  The course builds 100 layers; this pair uses DEPTH layers
of 64 units, deep enough for the ReLU drift to show (measured: ReLU's first-layer mean
is already 0.54 and its std falls to 0.65 by layer 20; SELU stays within 0.03 / 0.9-1.0), while
tracing 100 layers costs five times as long.  The spec checks step 0; the run goes on for 300
steps at the course's SGD 1e-3 so that what the drift costs shows too: by the last hidden
layer 80% of the differences between inputs lie along one direction (SELU: 40%), and the ReLU
stack ends near chance (accuracy 0.19) where SELU reaches 0.62.
"""

from __future__ import annotations

import trainspec
from examples._models import DIGITS, dense_net

#: Hidden layers: see the module docstring for why not 100.
DEPTH = 20


def _standardised(x):
    flat = x.reshape(len(x), -1)
    return ((flat - flat.mean(0)) / (flat.std(0) + 1e-3)).astype("float32")


DATA = (_standardised(DIGITS[0]), DIGITS[1])

broken = trainspec.Recipe(
    model=dense_net(f"relu_he_{DEPTH}x64", units=64, depth=DEPTH, activation="relu",
                    initializer="he_normal", input_shape=(784,)),
    data=DATA, loss="sparse_categorical_crossentropy", optimizer="sgd", learning_rate=0.001,
    steps=300, batch_size=32, metrics=["accuracy"], seed=0, name="selu-broken",
)
fixed = broken.replace(
    model=dense_net(f"selu_lecun_{DEPTH}x64", units=64, depth=DEPTH, activation="selu",
                    initializer="lecun_normal", input_shape=(784,)),
    name="selu-fixed",
)

pair = trainspec.Pair(
    "selu", broken=broken, fixed=fixed,
    cause=f"{DEPTH} ReLU layers: activations are never negative, their mean and scale drift "
    "away from 0 / 1 through depth",
    fix="SELU activations with lecun_normal weights on standardised inputs (self-normalising)",
    lesson="the course's notebook on problems of neural networks: SELU",
)
