"""The sweeps of seeds/003 and seeds/004, as ``trainspec.Sweep``s the report tabulates.

- ``LEARNING_RATE``: SGD at 0.1 / 0.01 / 0.001 / 0.0001 on the digits MLP (seeds/003);
- ``OPTIMIZER``: sgd / adam / rmsprop / adagrad at learning rate 0.01 (seeds/003);
- ``ACTIVATION_INITIALIZER``: activation x initializer pairs of seeds/004's table.

All share the 2 x 128 digits MLP of ``examples.input_noise.fixed`` (with validation data), so
points equal to a pair's run are not trained twice.
"""

from __future__ import annotations

import trainspec
from examples import input_noise
from examples._models import dense_net

BASE = input_noise.fixed.replace(name="digits_mlp")

LEARNING_RATE = trainspec.Sweep("learning_rate", base=BASE, over="learning_rate",
                                values=[0.1, 0.01, 0.001, 0.0001])

OPTIMIZER = trainspec.Sweep("optimizer", base=BASE.replace(learning_rate=0.01), over="optimizer",
                            values=["sgd", "adam", "rmsprop", "adagrad"])

_COMBINATIONS = [("relu", "glorot_uniform"), ("relu", "he_normal"), ("tanh", "glorot_normal"),
                 ("sigmoid", "glorot_uniform"), ("selu", "lecun_normal"), ("selu", "glorot_uniform")]
ACTIVATION_INITIALIZER = trainspec.Sweep(
    "activation_initializer",
    recipes={
        f"{act}+{init}": BASE.replace(
            model=dense_net(f"mlp_{act}_{init}", units=128, depth=2, activation=act,
                            initializer=init),
            name=f"{act}+{init}",
        )
        for act, init in _COMBINATIONS
    },
)

SWEEPS = [LEARNING_RATE, OPTIMIZER, ACTIVATION_INITIALIZER]
