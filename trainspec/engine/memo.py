"""The in-process memo: runs already trained in this process, and fingerprints of recipe
objects already prepared.

In: a recipe (or its ``Prepared``).  Out: its ``Run`` from the memo, else from a store (the disk
cache, registered in ``trainspec.events.STORES``), else trained by ``execute`` and stored.
``known_fingerprint`` lets ``train`` skip preparing a recipe object seen before.
"""

from __future__ import annotations

from dataclasses import replace

import keras
import numpy as np

from trainspec import nested
from trainspec.engine.codehash import code_digest
from trainspec.engine.execute import execute
from trainspec.engine.fingerprint import Hasher
from trainspec.engine.prepared import Prepared
from trainspec.events import STORES
from trainspec.recipe import Recipe, metric_items
from trainspec.run import Run

#: Runs trained in this process, by fingerprint.
_MEMO: dict[str, Run] = {}


def remembered(fingerprint: str | None) -> Run | None:
    """The run memoised for ``fingerprint`` in this process, if any."""
    return _MEMO.get(fingerprint) if fingerprint is not None else None


def recorded_or_trained(prepared: Prepared) -> Run:
    """The run memoised in this process, else one from a store (the disk cache), else trained."""
    fp = prepared.fingerprint
    run = _MEMO.get(fp)
    if run is None:
        run = next((r for store in STORES if (r := store.get(fp)) is not None), None)
        if run is None:
            run = execute(prepared)
            for store in STORES:  # without the weights: only a base needs them, at a cost
                store.put(fp, replace(run, final_weights=None))
        _MEMO[fp] = run
    return run


def recorded_with_weights(prepared: Prepared) -> Run:
    """As :func:`recorded_or_trained`, for a run whose final weights are needed: a stored run
    without them is trained again, and stored with them (replacing the one without)."""
    fp = prepared.fingerprint
    run = _MEMO.get(fp)
    if run is None or run.final_weights is None:
        run = next((r for store in STORES if (r := store.get(fp)) is not None
                    and r.final_weights is not None), None)
        if run is None:
            run = execute(prepared)
        _MEMO[fp] = run
    if not run.from_cache and fp not in _STORED_WITH_WEIGHTS:  # trained here: store its weights
        for store in STORES:
            store.put(fp, run, recipe=prepared.recipe)
        _STORED_WITH_WEIGHTS.add(fp)
    return run


#: Fingerprints whose runs were stored with their weights by this process.
_STORED_WITH_WEIGHTS: set[str] = set()


#: Fingerprints of recipe objects already prepared, by ``id``: (recipe, data digest, fingerprint).
#: Many specs share one recipe object; preparing it again (build, precheck, hashing the
#: weights) costs ~0.3 s per spec.  Recipes are frozen; their arrays are re-hashed in case they
#: were changed in place.
_BY_RECIPE: dict[int, tuple[Recipe, str, str]] = {}


def _data_digest(recipe: Recipe) -> str | None:
    """A hash of the recipe's arrays, or None when it holds user objects (a model or optimizer
    instance) that may have changed since it was prepared."""
    if isinstance(recipe.model, keras.Model) or isinstance(recipe.optimizer,
                                                           keras.optimizers.Optimizer):
        return None  # user objects that may have changed since: always prepare
    h = Hasher()
    for name, part in (("data", recipe.data), ("validation_data", recipe.validation_data)):
        for i, value in enumerate(part or ()):
            if isinstance(value, np.ndarray):
                h.add(f"{name}{i}", value)
            else:  # several inputs or targets
                for label, array in nested.leaves(value, f"{name}{i}"):
                    h.add(label, array)
    # the builder's code and what it uses (classes, globals), which may change in place
    h.add("code", code_digest(recipe.model, recipe.loss, metric_items(recipe.metrics),
                              recipe.train_step, list(recipe.callbacks)).digest)
    return h.hexdigest()


def known_fingerprint(recipe: Recipe) -> str | None:
    """The fingerprint of this very recipe object when it was prepared before and its arrays
    have not changed since, else None."""
    entry = _BY_RECIPE.get(id(recipe))
    if entry is None or entry[0] is not recipe:
        return None
    return entry[2] if _data_digest(recipe) == entry[1] else None


def remember_fingerprint(recipe: Recipe, fingerprint: str) -> None:
    """Remember ``recipe``'s fingerprint for ``known_fingerprint``."""
    digest = _data_digest(recipe)
    if digest is not None:
        _BY_RECIPE[id(recipe)] = (recipe, digest, fingerprint)


def clear_memo() -> None:
    """Forget the runs trained in this process (the disk cache is untouched).

    Example:
        >>> clear_memo()  # the next train() of every recipe trains again (or reads the cache)
    """
    _MEMO.clear()
    _BY_RECIPE.clear()
    _STORED_WITH_WEIGHTS.clear()

