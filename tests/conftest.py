"""Shared fixtures: tiny seeded recipes that train in well under a second after tracing."""

from __future__ import annotations

import textwrap

import keras  # noqa: F401  (see below)
import numpy as np
import pytest

import trainspec
from trainspec import datasets

# pytester's in-process runs unload every module first imported inside them; TensorFlow aborts
# when imported a second time, so it is imported once here, in the outer session.
pytest_plugins = ["pytester"]


def small_mlp(activation: str = "relu", width: int = 16, depth: int = 2):
    """A builder for a small classifier on 2-feature blobs."""

    def build():
        layers = [keras.Input((2,))]
        layers += [keras.layers.Dense(width, activation=activation) for _ in range(depth)]
        layers += [keras.layers.Dense(3, activation="softmax")]
        return keras.Sequential(layers)

    build.__qualname__ = f"small_mlp_{activation}_{width}_{depth}"
    return build


@pytest.hookimpl(tryfirst=True)
def pytest_configure(config: pytest.Config) -> None:
    """trainspec's own tests train every run: no disk cache in this outer session (the
    pytester sessions inside it have their own, in their temporary folders)."""
    if config.getoption("trainspec_cache", None) is None:
        config.option.trainspec_cache = "off"


@pytest.fixture(scope="session")
def blobs() -> tuple[np.ndarray, np.ndarray]:
    return datasets.blobs(n=512, classes=3, seed=0)


@pytest.fixture(scope="session")
def healthy(blobs) -> trainspec.Recipe:
    return trainspec.Recipe(
        model=small_mlp(), data=blobs, loss="sparse_categorical_crossentropy", optimizer="sgd",
        learning_rate=0.1, steps=120, batch_size=32, metrics=["accuracy"], seed=0,
        name="healthy",
    )


@pytest.fixture(scope="session")
def healthy_run(healthy) -> trainspec.Run:
    return trainspec.train(healthy)


#: The start of a spec module for pytester runs: tiny seeded recipes, ``recipe(**changes)``.
TINY_SPECS = textwrap.dedent(
    """
    import trainspec
    from trainspec import datasets

    DATA = datasets.blobs(n=256, classes=3, seed=0)

    def mlp():
        import keras
        return keras.Sequential([keras.Input((2,)), keras.layers.Dense(8, activation="relu"),
                                 keras.layers.Dense(3, activation="softmax")])

    def recipe(**changes):
        fields = dict(model=mlp, data=DATA, loss="sparse_categorical_crossentropy",
                      optimizer="sgd", learning_rate=0.1, steps=60, batch_size=32,
                      metrics=["accuracy"], seed=0)
        fields.update(changes)
        return trainspec.Recipe(**fields)
    """
)
