"""A recipe's fingerprint: a hash of everything that decides what training records.

Model architecture and initial weights, data, loss, optimizer configuration, steps, batch size,
seed, metrics, callbacks and custom step, and the Python code of every user-defined part
(:mod:`trainspec.engine.codehash`).  Two recipes with one fingerprint train identically,
so a run is trained once per session (and, with the disk cache, once per machine).
"""

from __future__ import annotations

import hashlib
import inspect
import json
from typing import Any

import numpy as np

from trainspec.engine.codehash import code_digest

#: Bump when the engine changes what it records, so old fingerprints no longer match.
# 2: fused norms; 3: frozen layers, no-gradient variables, unprobed layers, several outputs;
# 4: fused activation statistics (the same statistics, other rounding); 5: histograms in numpy
# (the same counts, edges as eager tf.linspace's, an ulp or so from the traced ones)
ENGINE_VERSION = "5"

_SIMPLE = (int, float, str, bool, type(None))


class Hasher:
    """An incremental sha256 over labelled parts."""

    def __init__(self) -> None:
        self._h = hashlib.sha256()

    def add(self, label: str, value: Any) -> None:
        self._h.update(label.encode() + b"\0")
        if isinstance(value, np.ndarray):
            array = np.ascontiguousarray(value)
            self._h.update(f"{array.dtype.str}{array.shape}".encode())
            self._h.update(array.tobytes())
        elif isinstance(value, bytes):
            self._h.update(value)
        else:
            self._h.update(json.dumps(value, sort_keys=True, default=repr).encode())
        self._h.update(b"\1")

    def hexdigest(self) -> str:
        return self._h.hexdigest()


def callable_identity(fn: Any) -> dict[str, Any]:
    """What identifies a user function: its name and the hash of its code
    (:func:`trainspec.engine.codehash.code_digest`: bytecode, defaults, closed-over values and the
    globals it uses, recursively).

    Two lambdas with one source but different closed-over numbers get different identities.
    """
    target = getattr(fn, "__func__", fn)
    ident: dict[str, Any] = {
        "name": f"{getattr(target, '__module__', '')}.{getattr(target, '__qualname__', repr(type(fn)))}",
        "code": code_digest(fn).digest,
    }
    if not inspect.isfunction(target) and not inspect.ismethod(target):
        config = getattr(fn, "get_config", None)
        ident["config"] = _plain(config()) if callable(config) else _plain(vars(fn))
    return ident


def _plain(value: Any, depth: int = 0) -> Any:
    """A JSON-able stand-in for ``value``: plain values as they are, containers recursively,
    arrays by hash, functions by identity, anything else by type name."""
    if depth > 4:
        return type(value).__name__
    if isinstance(value, _SIMPLE):
        return value
    if isinstance(value, (list, tuple)):
        return [_plain(v, depth + 1) for v in value]
    if isinstance(value, dict):
        return {str(k): _plain(v, depth + 1) for k, v in value.items()}
    if isinstance(value, np.ndarray):
        return hashlib.sha256(np.ascontiguousarray(value).tobytes()).hexdigest()
    if isinstance(value, np.generic):
        return value.item()
    if inspect.isfunction(value) or inspect.ismethod(value):
        return callable_identity(value) if depth < 2 else getattr(value, "__qualname__", "")
    config = getattr(value, "get_config", None)
    if callable(config):
        try:
            return {"class": type(value).__name__, "config": _plain(config(), depth + 1)}
        except Exception:
            pass
    return type(value).__name__


def identity(value: Any) -> Any:
    """JSON-able identity of a recipe field value (names, configs, or callable identities)."""
    if isinstance(value, _SIMPLE):
        return value
    if inspect.isfunction(value) or inspect.ismethod(value):
        return callable_identity(value)
    return {"value": _plain(value), "code": code_digest(value).digest}
