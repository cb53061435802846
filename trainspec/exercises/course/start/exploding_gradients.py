"""Exploding gradients: a regression whose training blows up.

A small network predicts targets in the hundreds with plain SGD.  The first gradients are huge,
each update is larger than the weights it changes, and within a few steps the loss overflows to
Inf/NaN.  Keep the model, the data and the learning rate: change how the optimizer applies its
updates so the run stays finite and the loss falls.
"""

import numpy as np

import trainspec


def make_regression(n=2048, features=10, scale=100.0, seed=3):
    """Targets in the hundreds: ``scale`` x a smooth function of 10 features, plus noise."""
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(n, features)).astype(np.float32)
    w = rng.normal(size=(features, 1))
    y = scale * (np.tanh(x @ w) + 0.1 * rng.normal(size=(n, 1)))
    return x, y.astype(np.float32)


DATA = make_regression()


def build_model():
    import keras

    return keras.Sequential([
        keras.Input((10,)), keras.layers.Dense(64, activation="relu"),
        keras.layers.Dense(64, activation="relu"), keras.layers.Dense(1),
    ], name="mlp_regressor")


recipe = trainspec.Recipe(
    model=build_model, data=DATA, loss="mse", optimizer={"name": "sgd"}, learning_rate=0.05,
    steps=200, batch_size=32, seed=0, name="exploding_gradients",
)
