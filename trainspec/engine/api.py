"""The engine's entry points: ``train`` (a recipe to its ``Run``) and ``fingerprint``.

``train`` passes a recipe through the stages: the memo (``memo.py``) for a recipe object seen
before, else ``prepare`` (build, resolve, check, fingerprint), then the memo, a store or
``execute`` (the traced loop, ``loop.py``; arrays to a ``Run``, ``assemble.py``).  Listeners
registered in ``trainspec.events.LISTENERS`` are told of every run it returns.
"""

from __future__ import annotations

from dataclasses import replace

from trainspec.engine.codehash import warn_uncached
from trainspec.engine.execute import execute
from trainspec.engine.memo import (
    known_fingerprint,
    recorded_or_trained,
    remember_fingerprint,
    remembered,
)
from trainspec.engine.prepare import prepare, restore
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
        prepared = prepare(recipe)
        try:
            if prepared.unreadable:  # code we cannot hash: neither memoised nor cached
                warn_uncached(recipe.label, prepared.unreadable)
                run = execute(prepared)
            else:
                remember_fingerprint(recipe, prepared.fingerprint)
                run = recorded_or_trained(prepared)
        finally:
            restore(prepared)  # a model trained in place gets its initial variables back
    if run.label != recipe.label:  # the name is not in the fingerprint: a shared run takes
        run = replace(run, label=recipe.label)  # the asking recipe's, whoever trained it first
    for listener in list(LISTENERS):
        listener(recipe, run)
    return run


def fingerprint(recipe: Recipe) -> str:
    """The recipe's fingerprint (builds the model to hash its initial weights).

    Example:
        >>> fingerprint(recipe) == fingerprint(recipe.replace(name="other"))  # doctest: +SKIP
        True
    """
    return prepare(recipe).fingerprint
