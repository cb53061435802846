"""Dying ReLUs at a high learning rate (the course's notebook on problems of neural
networks), with LeakyReLU, PReLU and ELU as fixes.

A large step pushes a ReLU unit's weights so that its input is negative for every image: it
outputs 0, its gradient is 0, and it never recovers ("half of your network's neurons are dead,
especially if you used a large learning rate").  Fix: a ReLU variant with a non-zero slope for
negative inputs, so a unit pushed there still gets a gradient and can come back.  ``pair`` uses
LeakyReLU; ``prelu_pair`` and ``elu_pair`` the other two fixes (same broken run, trained once).
"""

from __future__ import annotations

import trainspec
from examples._models import DIGITS, dense_net

_NET = {"units": 128, "depth": 3, "initializer": "he_normal"}

broken = trainspec.Recipe(
    model=dense_net("relu_3x128", **_NET, activation="relu"), data=DIGITS,
    loss="sparse_categorical_crossentropy", optimizer="adam", learning_rate=0.02, steps=200,
    batch_size=32, metrics=["accuracy"], seed=0, name="dying_relu-broken",
)
fixed = broken.replace(model=dense_net("leaky_relu_3x128", **_NET, activation_layer="leaky_relu"),
                       name="dying_relu-leaky")
prelu = broken.replace(model=dense_net("prelu_3x128", **_NET, activation_layer="prelu"),
                       name="dying_relu-prelu")
elu = broken.replace(model=dense_net("elu_3x128", **_NET, activation_layer="elu"),
                     name="dying_relu-elu")

_CAUSE = ("Adam at learning rate 0.02 on ReLU layers: big steps push units to negative inputs "
          "for every image, where ReLU has no gradient, and they never come back")
_LESSON = "the course's notebook on problems of neural networks: dying ReLUs"
pair = trainspec.Pair("dying_relu", broken=broken, fixed=fixed, cause=_CAUSE,
                      fix="LeakyReLU (slope 0.2 for negative inputs)", lesson=_LESSON)
prelu_pair = trainspec.Pair("dying_relu_prelu", broken=broken, fixed=prelu, cause=_CAUSE,
                            fix="PReLU (the negative slope is learned)", lesson=_LESSON)
elu_pair = trainspec.Pair("dying_relu_elu", broken=broken, fixed=elu, cause=_CAUSE,
                          fix="ELU (smooth, non-zero gradient for negative inputs)",
                          lesson=_LESSON)
pairs = [pair, prelu_pair, elu_pair]
