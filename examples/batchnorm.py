"""Batch normalisation, before and after (the course's notebook on problems of neural
networks and its MLflow notebook).

The broken model is fed raw pixel values in [0, 255], as images come off the disk: the first
layer's pre-activations are hundreds of times too large, the ELU layers pass them on, and SGD's
first steps blow the loss up.  The fixed model is the course's: BatchNormalization right after
Flatten and after every hidden layer, which rescales each layer's inputs to mean 0 / std 1 on
every batch, so the same data and learning rate train.
"""

from __future__ import annotations

import trainspec
from examples._models import DIGITS, dense_net

RAW = ((DIGITS[0] * 255.0).astype("float32"), DIGITS[1])
_NET = {"units": [300, 100], "activation": "elu", "initializer": "he_normal"}

broken = trainspec.Recipe(
    model=dense_net("elu_300_100", **_NET), data=RAW, loss="sparse_categorical_crossentropy",
    optimizer="sgd", learning_rate=0.01, steps=200, batch_size=32, metrics=["accuracy"], seed=0,
    name="batchnorm-broken",
)
fixed = broken.replace(model=dense_net("elu_300_100_bn", **_NET, batchnorm=True),
                       name="batchnorm-fixed")

pair = trainspec.Pair(
    "batchnorm", broken=broken, fixed=fixed,
    cause="raw [0, 255] pixels into ELU layers: pre-activations hundreds of times too large, "
    "the loss explodes",
    fix="BatchNormalization after Flatten and after every hidden layer",
    lesson="the course's notebook and MLflow notebook: batch normalisation",
)
