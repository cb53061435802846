"""Fail1 (the course's Fail exercise): a deep, narrow network trained with a learning rate far too high.

Ten hidden layers of 100 ReLU units and SGD at learning rate 1.0: the updates overshoot, the
loss jumps and the network ends no better than its first step (or diverges to NaN).  Fix, as the
course's solution does: a lower learning rate (0.05), wider layers (256 units) and only three of
them.
"""

from __future__ import annotations

import trainspec
from examples._models import DIGITS, dense_net

broken = trainspec.Recipe(
    model=dense_net("deep_narrow_10x100", units=100, depth=10), data=DIGITS,
    loss="sparse_categorical_crossentropy", optimizer="sgd", learning_rate=1.0, steps=200,
    batch_size=32, metrics=["accuracy"], seed=0, name="high_learning_rate-broken",
)
fixed = broken.replace(model=dense_net("wide_3x256", units=256, depth=3), learning_rate=0.05,
                       name="high_learning_rate-fixed")

pair = trainspec.Pair(
    "high_learning_rate", broken=broken, fixed=fixed,
    cause="learning rate 1.0 on a 10-layer, 100-unit network: every step overshoots, the loss "
    "does not fall (or diverges)",
    fix="learning rate 0.05, 256-unit layers, 3 hidden layers",
    lesson="the course's Fail exercise, Fail1", alias="Fail1",
)
