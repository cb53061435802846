"""Fail2: sigmoid activations in every hidden layer.

Each sigmoid scales the gradient by at most 0.25, so after many layers almost nothing reaches
the first ones and they barely learn.  Fix: ReLU (with He initialisation).
"""

from __future__ import annotations

import trainspec
from trainspec import datasets

DATA = datasets.blobs(n=2048, classes=4, features=20, spread=1.0, seed=2)


def deep(activation: str, initializer: str):
    def build():
        import keras  # imported here so collecting specs does not import TensorFlow

        return keras.Sequential(
            [keras.Input((20,))]
            + [keras.layers.Dense(64, activation=activation, kernel_initializer=initializer)
               for _ in range(10)]
            + [keras.layers.Dense(4, activation="softmax")]
        )

    build.__qualname__ = f"deep_{activation}"
    return build


broken = trainspec.Recipe(
    model=deep("sigmoid", "glorot_uniform"), data=DATA, loss="sparse_categorical_crossentropy",
    optimizer="sgd", learning_rate=0.05, steps=300, batch_size=32, metrics=["accuracy"],
    name="fail2-broken",
)
fixed = broken.replace(model=deep("relu", "he_normal"), name="fail2-fixed")

pair = trainspec.Pair(
    "sigmoid_vanishing", broken=broken, fixed=fixed,
    cause="sigmoid in all 10 hidden layers: each multiplies the gradient by <= 0.25, so the "
    "first layers receive almost none",
    fix="ReLU activations with He initialisation",
    lesson="seeds/000 Fail2, seeds/001 vanishing gradients",
)
