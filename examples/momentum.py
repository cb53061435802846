"""Momentum: plain SGD against SGD with momentum 0.9 down a ravine.

The course's MLflow notebook derives the momentum update: with beta = 0 it is gradient
descent, with beta = 0.9 each update carries 90% of the previous one (81% of the one before),
so it keeps moving where the gradient is small and "can jump through saddle points".

Here the problem is a ravine: a linear regression whose two inputs differ 10-fold in scale,
so the loss surface is 100 times steeper across the ravine than along it.  The learning rate
is capped by the steep direction (0.1 here); plain SGD then crawls along the flat one and
after 300 steps still carries about a third of its starting loss.  Momentum 0.9 at the same learning
rate accumulates the small, consistent gradient along the ravine (an effective step ten times
larger) and reaches the bottom.  The spec: the loss falls by 95% within the run.
"""

from __future__ import annotations

import numpy as np

import trainspec


def ravine_data(n: int = 512, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Inputs of scale 1 and 1/10 and a target that depends mostly on the small one."""
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(n, 2)) * np.array([1.0, 0.1])
    y = x @ np.array([0.3, 30.0]) + 0.01 * rng.normal(size=n)
    return x.astype(np.float32), y.astype(np.float32)[:, None]


def linear_model():
    import keras

    return keras.Sequential([keras.Input((2,)),
                             keras.layers.Dense(1, use_bias=False, kernel_initializer="zeros")],
                            name="linear_2_inputs")


broken = trainspec.Recipe(
    model=linear_model, data=ravine_data(), loss="mse", optimizer="sgd", learning_rate=0.1,
    steps=300, batch_size=32, seed=0, name="momentum-broken",
)
fixed = broken.replace(optimizer={"name": "sgd", "momentum": 0.9}, name="momentum-fixed")

pair = trainspec.Pair(
    "momentum", broken=broken, fixed=fixed,
    cause="plain SGD in a ravine (input scales 1 and 1/10): the learning rate the steep side "
    "allows crawls along the flat one",
    fix="SGD with momentum 0.9 at the same learning rate",
    lesson="the course's MLflow notebook, item 8: the momentum optimizer and its beta",
)
