"""Vanishing gradients in a deep sigmoid network (the course's training notes and its
notebook on problems of neural networks).

Back-propagation multiplies the gradient by the sigmoid's slope (<= 0.25) at every layer, so
after ten layers the first ones receive a gradient orders of magnitude smaller than the last:
"the lower layers are left untrained".  Fix: ReLU with He initialisation, which keeps the
variance of signals and gradients constant through depth.
"""

from __future__ import annotations

import trainspec
from examples._models import dense_net
from trainspec import datasets

DATA = datasets.blobs(n=2048, classes=4, features=20, spread=1.0, seed=2)

broken = trainspec.Recipe(
    model=dense_net("deep_sigmoid_10x64", units=64, depth=10, activation="sigmoid",
                    input_shape=(20,), classes=4),
    data=DATA, loss="sparse_categorical_crossentropy", optimizer="sgd", learning_rate=0.05,
    steps=200, batch_size=32, metrics=["accuracy"], seed=0, name="vanishing-broken",
)
fixed = broken.replace(
    model=dense_net("deep_relu_he_10x64", units=64, depth=10, activation="relu",
                    initializer="he_normal", input_shape=(20,), classes=4),
    name="vanishing-fixed",
)

pair = trainspec.Pair(
    "vanishing", broken=broken, fixed=fixed,
    cause="10 sigmoid layers: each multiplies the gradient by <= 0.25, so the first layers "
    "receive almost none",
    fix="ReLU activations with He initialisation",
    lesson="the course's training notes and notebook: vanishing gradients",
)
