"""Fail4 (the course's Fail exercise): so much noise added to the training images that the digit is gone.

Pixel noise of standard deviation 8 (pixels lie in [0, 1]), clipped back to [0, 1]: every pixel
is a coin flip and nothing is left to learn; the model stays at chance.  Fix: no added noise.
"""

from __future__ import annotations

import trainspec
from examples._models import DIGITS, DIGITS_VAL, dense_net
from trainspec import datasets

broken = trainspec.Recipe(
    model=dense_net("mlp_2x128", units=128, depth=2), data=datasets.digits(n=2048, seed=0, noise=8.0),
    loss="sparse_categorical_crossentropy", optimizer="sgd", learning_rate=0.1, steps=200,
    batch_size=32, metrics=["accuracy"], seed=0, validation_data=DIGITS_VAL,
    name="input_noise-broken",
)
fixed = broken.replace(data=DIGITS, name="input_noise-fixed")

pair = trainspec.Pair(
    "input_noise", broken=broken, fixed=fixed,
    cause="noise of std 8 on [0, 1] pixels: the image no longer exists, accuracy stays at chance",
    fix="train on the images without the added noise",
    lesson="the course's Fail exercise, Fail4", alias="Fail4",
)
