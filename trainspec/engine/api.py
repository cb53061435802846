"""The engine's entry points: ``train`` (a recipe to its ``Run``), ``trained_weights`` (a
recipe to its model's final weights, for a pretrained base) and ``fingerprint``.

``train`` passes a recipe through the stages: the memo (``memo.py``) for a recipe object seen
before, else ``prepare`` (build, resolve, check, fingerprint), then the memo, a store or
``execute`` (the traced loop, ``loop.py``; arrays to a ``Run``, ``assemble.py``).  Listeners
registered in ``trainspec.events.LISTENERS`` are told of every run it returns.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace

import numpy as np

from trainspec.engine.codehash import warn_uncached
from trainspec.engine.execute import execute
from trainspec.engine.memo import (
    known_fingerprint,
    recorded_or_trained,
    recorded_with_weights,
    remember_fingerprint,
    remembered,
)
from trainspec.engine.prepare import prepare, restore
from trainspec.engine.prepared import Prepared
from trainspec.events import LISTENERS
from trainspec.recipe import Recipe
from trainspec.run import Run


def train(recipe: Recipe) -> Run:
    """Train ``recipe`` (or return the run already recorded for an identical recipe).

    Example:
        >>> run = trainspec.train(recipe)              # doctest: +SKIP
        >>> run.loss.relative_decrease() > 0.5
        True
    """
    if not isinstance(recipe, Recipe):
        raise TypeError(f"train() takes a trainspec.Recipe, got {type(recipe).__name__}")
    # the same recipe object again: no need to build and hash its model
    run = remembered(known_fingerprint(recipe))
    if run is None:
        run = _prepared_run(recipe, recorded_or_trained)
    if run.label != recipe.label:  # the name is not in the fingerprint: a shared run takes
        run = replace(run, label=recipe.label)  # the asking recipe's, whoever trained it first
    for listener in list(LISTENERS):
        listener(recipe, run)
    return run


def trained_weights(recipe: Recipe) -> list[np.ndarray]:
    """The model's weights after training ``recipe``: a base that other recipes start from.

    The run is trained once and kept like any other (the memo in this process, the disk
    cache across sessions), with its final weights.  A builder that loads them makes them its
    model's initial weights, hence part of its recipe's fingerprint: change the base recipe
    and every recipe built on it trains again.  Listeners are not told of the run (it is a step
    of building another model); ``train(recipe)`` reports it, from the memo.

    Example:
        >>> def fine_tuned():                             # doctest: +SKIP
        ...     model = network()
        ...     model.set_weights(trained_weights(base))
        ...     return model
    """
    if not isinstance(recipe, Recipe):
        raise TypeError(f"trained_weights() takes a trainspec.Recipe, got {type(recipe).__name__}")
    run = _prepared_run(recipe, recorded_with_weights)
    assert run.final_weights is not None
    return [np.array(w) for w in run.final_weights]


def fingerprint(recipe: Recipe) -> str:
    """The recipe's fingerprint (builds the model to hash its initial weights).

    Example:
        >>> fingerprint(recipe) == fingerprint(recipe.replace(name="other"))  # doctest: +SKIP
        True
    """
    return prepare(recipe).fingerprint


def _prepared_run(recipe: Recipe, kept: Callable[[Prepared], Run]) -> Run:
    """Prepare ``recipe`` and get its run through ``kept`` (the memo, then the disk cache, then
    training); code the fingerprint cannot hash is trained every time, never kept."""
    prepared = prepare(recipe)
    try:
        if prepared.unreadable:
            warn_uncached(recipe.label, prepared.unreadable)
            return execute(prepared)
        remember_fingerprint(recipe, prepared.fingerprint)
        return kept(prepared)
    finally:
        restore(prepared)  # a model trained in place gets its initial variables back
