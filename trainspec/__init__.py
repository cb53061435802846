"""trainspec: test how a Keras model trains.

Describe a small seeded run as a :class:`Recipe`, train it with :func:`train`, and assert on the
:class:`Run` from plain pytest test functions.  Declare broken/fixed :class:`Pair`\\ s and apply
specs to them with :func:`applies_to`; the pytest plugin reports, per pair, whether each spec
catches the broken model and passes the fixed one.

Example::

    import trainspec

    @trainspec.applies_to(pairs.high_learning_rate)
    def test_loss_halves(run):
        assert run.loss.relative_decrease() >= 0.5

TensorFlow is imported only when a run starts.
"""

from __future__ import annotations

from typing import Any

from trainspec import datasets, mutants
from trainspec.constants import ActivationKind, Outcome, Variant, Verdict
from trainspec.doctor import (
    Diagnosis,
    Finding,
    Symptom,
    Thresholds,
    diagnose,
    doctor_spec,
    try_fixes,
)
from trainspec.exceptions import BuildError, DataError, RecipeError, SpecFailure, TrainspecError
from trainspec.exercises.exercise import Exercise
from trainspec.expect import expect
from trainspec.pairs import Pair, Sweep, applies_to
from trainspec.recipe import Recipe
from trainspec.run import ActivationTrace, LayerTrace, NonFinite, Run
from trainspec.series import Change, Series

__version__ = "0.1.0"


def train(recipe: Recipe) -> Run:
    """Train ``recipe`` in one compiled TensorFlow graph and return its :class:`Run`.

    Identical recipes (same fingerprint: model config and initial weights, data, loss,
    optimizer, steps, batch size, seed...) train once per session.

    Example:
        >>> import numpy as np, trainspec
        >>> x = np.random.default_rng(0).normal(size=(256, 4)).astype("float32")
        >>> y = (x[:, 0] > 0).astype("int32")
        >>> def build():
        ...     import keras
        ...     return keras.Sequential([keras.Input((4,)), keras.layers.Dense(2)])
        >>> run = trainspec.train(trainspec.Recipe(model=build, data=(x, y), steps=50,
        ...     loss="sparse_categorical_crossentropy", optimizer="sgd", learning_rate=0.1))
        >>> run.steps_recorded
        50
    """
    from trainspec.engine import train as _train

    return _train(recipe)


def trained_weights(recipe: Recipe) -> list[Any]:
    """The model's weights (``model.get_weights()`` order) after training ``recipe``, trained
    once and kept in the memo and the run cache: a pretrained base that other recipes load.

    Example:
        >>> import numpy as np, trainspec
        >>> x = np.random.default_rng(0).normal(size=(256, 4)).astype("float32")
        >>> y = (x[:, 0] > 0).astype("int32")
        >>> def build():
        ...     import keras
        ...     return keras.Sequential([keras.Input((4,)), keras.layers.Dense(2)])
        >>> base = trainspec.Recipe(model=build, data=(x, y), steps=50,
        ...     loss="sparse_categorical_crossentropy", optimizer="sgd", learning_rate=0.1)
        >>> [w.shape for w in trainspec.trained_weights(base)]
        [(4, 2), (2,)]
    """
    from trainspec.engine import trained_weights as _trained_weights

    return _trained_weights(recipe)


__all__ = [
    "ActivationKind",
    "ActivationTrace",
    "BuildError",
    "Diagnosis",
    "Finding",
    "Symptom",
    "DataError",
    "Exercise",
    "LayerTrace",
    "NonFinite",
    "Outcome",
    "Pair",
    "Recipe",
    "RecipeError",
    "Run",
    "Series",
    "Change",
    "SpecFailure",
    "Sweep",
    "TrainspecError",
    "Variant",
    "Verdict",
    "applies_to",
    "datasets",
    "diagnose",
    "doctor_spec",
    "Thresholds",
    "mutants",
    "expect",
    "train",
    "trained_weights",
    "try_fixes",
]
