"""The fingerprint of a prepared recipe: the hash the memo, the disk cache and the report key
runs by.

In: a ``Prepared`` (model built, loss and optimizer resolved, data converted).  Out: 32 hex
characters.  What goes into the hash (architecture with layer names replaced by position,
initial weights, data, loss, optimizer config, steps, batch size, seed, evaluation interval,
metrics, callbacks, custom step, the Python code of user-defined parts) is listed in
``fingerprint_of``; the hashing itself (``Hasher``, ``identity``) is in ``fingerprint.py``, the
hashing of code in ``codehash.py``.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from trainspec import nested
from trainspec.engine import probes
from trainspec.engine.codehash import code_digest
from trainspec.engine.fingerprint import ENGINE_VERSION, Hasher, identity
from trainspec.engine.prepared import Prepared


def canonical_config(model: Any) -> str:
    """The model's JSON with layer names replaced by their position: Keras numbers layers per
    session (``dense_7``), which must not change the fingerprint.

    Example:
        >>> '"L0"' in canonical_config(model)           # doctest: +SKIP
        True
    """
    try:
        text = model.to_json()
    except Exception:
        return type(model).__qualname__
    names = [model.name] + [layer.name for layer in probes.leaf_layers(model)]
    names += [layer.name for layer in model.layers]
    # longest first, ties by name: set order follows str hashing, which differs per process
    for i, name in enumerate(sorted(set(names), key=lambda n: (-len(n), n))):
        text = text.replace(f'"{name}"', f'"L{i}"')
    return text


def _add_arrays(h: Hasher, label: str, value: Any) -> None:
    """One array as it always was; several (inputs or outputs, in model order) one by one."""
    if isinstance(value, np.ndarray):
        h.add(label, value)
        return
    h.add(label, ["dict" if isinstance(value, dict) else "tuple", len(value)])
    if isinstance(value, dict):  # by key: the order a dict was written in changes nothing
        value = {key: value[key] for key in sorted(value)}
    for i, (name, array) in enumerate(nested.leaves(value, label)):
        h.add(f"{label}{i}", name)
        h.add(f"{label}{i}", array)


def fingerprint_of(p: Prepared) -> str:
    """Hash everything that decides what training ``p`` records.

    Example:
        >>> fingerprint_of(prepare(recipe)) == fingerprint_of(prepare(recipe))  # doctest: +SKIP
        True
    """
    r = p.recipe
    h = Hasher()
    h.add("engine", ENGINE_VERSION)
    h.add("model", canonical_config(p.model))
    for w in p.model.get_weights():
        h.add("weight", np.asarray(w))
    _add_arrays(h, "train_x", p.train[0])
    _add_arrays(h, "train_y", p.train[1])
    if p.val is not None:
        _add_arrays(h, "val_x", p.val[0])
        _add_arrays(h, "val_y", p.val[1])
    h.add("loss", identity(r.loss) if r.loss is not None else p.loss_name)
    # without Keras' automatic name (sgd, sgd_1...): it depends on creation order, not the recipe
    h.add("optimizer", identity({k: v for k, v in p.optimizer.get_config().items() if k != "name"}))
    h.add("optimizer_class", type(p.optimizer).__name__)
    for name in ("steps", "batch_size", "seed", "eval_every"):
        h.add(name, getattr(r, name))
    if isinstance(r.metrics, tuple) and not p.outputs:
        h.add("metrics", [identity(m) for m in r.metrics])
    else:  # per output, or for each of several outputs: what each output records
        h.add("metrics", [[name, identity(fn)] for name, fn in p.metric_fns])
    h.add("callbacks", [identity(c) for c in r.callbacks])
    h.add("train_step", identity(r.train_step) if r.train_step is not None else None)
    # the Python code of user-defined layers, models, functions and callbacks (config and
    # weights do not show what a custom call() computes); what cannot be read is noted in p
    layers = list(p.model._flatten_layers(include_self=True, recursive=True))
    code = code_digest(*layers, p.loss_fn, [fn for _, fn in p.metric_fns], p.optimizer,
                       r.train_step, list(r.callbacks), layers=layers)
    h.add("code", code.digest)
    p.unreadable = code.unreadable
    return h.hexdigest()[:32]
