"""Data given as a ``tf.data.Dataset``, a Python generator or a ``keras.utils.PyDataset``,
read once into ``(x, y)`` arrays when the recipe is built.

What is guaranteed: the samples are read once, in the order the source yields them, when the
``Recipe`` is built; from then on a run draws its batches from those arrays with trainspec's
seeded schedule, so every run of the recipe (in any process) trains on the same batches and
records the same bits.  The source's own batching, shuffling and ``repeat`` only decide the
order of the samples read: a ``Dataset`` that shuffles without a seed gives another recipe (and
fingerprint) in each process; seed its ``shuffle`` to keep the cache and the verdicts stable.

- ``tf.data.Dataset``: finite only (``.take(n)`` an infinite one); elements are batches when
  the dataset is batched (leading dimension ``None``, or a ``.batch(...)`` dataset), samples
  otherwise.
- A generator or iterator yields ``(x, y)`` batches, as ``model.fit`` expects; it is consumed.
- ``keras.utils.PyDataset``: ``len(ds)`` batches ``ds[i]``.

``x`` and ``y`` may be dicts or tuples of arrays (a model of several inputs or outputs, matched
by name or position, see ``trainspec.nested``); every element must have the same keys.
``(x, y, sample_weight)`` elements are refused with an error naming the field.

Example:
    >>> import numpy as np
    >>> from trainspec.sources import read_source
    >>> batches = ((np.ones((2, 3)), np.zeros(2)) for _ in range(4))
    >>> [a.shape for a in read_source(batches, "data")]
    [(8, 3), (8,)]
"""

from __future__ import annotations

import sys
from collections.abc import Iterable, Iterator
from typing import Any

import numpy as np

#: A generator yielding more batches than this is taken to be endless.
MAX_BATCHES = 100_000


def is_source(value: Any) -> bool:
    """True for a Dataset, generator/iterator or PyDataset (not an ``(x, y)`` pair)."""
    if isinstance(value, (tuple, list, np.ndarray, str, bytes, dict)):
        return False
    return _is_dataset(value) or _is_pydataset(value) or isinstance(value, Iterator)


def _is_dataset(value: Any) -> bool:
    tf = sys.modules.get("tensorflow")
    return tf is not None and isinstance(value, tf.data.Dataset)


def _is_pydataset(value: Any) -> bool:
    keras = sys.modules.get("keras")
    return keras is not None and isinstance(value, keras.utils.PyDataset)


def read_source(value: Any, what: str) -> tuple[Any, Any]:
    """The ``(x, y)`` arrays of a source, read once (see the module docstring)."""
    if _is_dataset(value):
        return _read_dataset(value, what)
    if _is_pydataset(value):
        try:
            count = len(value)
        except TypeError:
            raise ValueError(f"{what}: a PyDataset without __len__ may be endless; give a "
                             "finite one") from None
        return _concatenate((value[i] for i in range(count)), what, batched=True)
    return _concatenate(_bounded(value, what), what, batched=True)


def _bounded(items: Iterable[Any], what: str) -> Iterator[Any]:
    for n, item in enumerate(items):
        if n >= MAX_BATCHES:
            raise ValueError(f"{what}: the generator yielded more than {MAX_BATCHES} batches; "
                             "give a finite one")
        yield item


def _read_dataset(dataset: Any, what: str) -> tuple[Any, Any]:
    import tensorflow as tf

    if int(dataset.cardinality()) == int(tf.data.INFINITE_CARDINALITY):
        raise ValueError(f"{what}: the tf.data.Dataset is infinite (repeat()); take a finite "
                         "part with .take(n)")
    spec = dataset.element_spec
    first = spec[0] if isinstance(spec, tuple) and spec else spec
    first = tf.nest.flatten(first)[0] if tf.nest.flatten(first) else first  # a dict of inputs
    shape = getattr(first, "shape", None)
    batched = "Batch" in type(dataset).__name__ or (
        shape is not None and shape.rank and shape[0] is None
    )
    return _concatenate(_bounded(dataset.as_numpy_iterator(), what), what, batched=bool(batched))


def _concatenate(elements: Iterable[Any], what: str, batched: bool) -> tuple[Any, Any]:
    xs: list[Any] = []
    ys: list[Any] = []
    for element in elements:
        if not isinstance(element, (tuple, list)) or len(element) not in (2, 3):
            raise ValueError(f"{what}: each element must be an (x, y) pair, got "
                             f"{type(element).__name__}")
        if len(element) == 3:
            raise ValueError(f"{what}: (x, y, sample_weight) elements: sample weights are not "
                             "supported")
        x, y = element
        xs.append(_arrays(x))
        ys.append(_arrays(y))
    if not xs:
        raise ValueError(f"{what}: the source yielded nothing")
    return _join(xs, f"{what} x", batched), _join(ys, f"{what} y", batched)


def _arrays(value: Any) -> Any:
    """One element's x or y as an array, a dict of arrays or a tuple of arrays."""
    if isinstance(value, dict):
        return {key: np.asarray(v) for key, v in value.items()}
    if isinstance(value, (list, tuple)):
        return tuple(np.asarray(v) for v in value)
    return np.asarray(value)


def _join(parts: list[Any], what: str, batched: bool) -> Any:
    """The elements' arrays joined along the sample axis, keeping their dict or tuple."""
    join = np.concatenate if batched else np.stack
    head = parts[0]
    try:
        if isinstance(head, dict):
            for n, part in enumerate(parts):
                if not isinstance(part, dict) or set(part) != set(head):
                    raise ValueError(f"{what}: element {n} has keys {_keys(part)} but element 0 "
                                     f"has {_keys(head)}")
            return {key: join([part[key] for part in parts]) for key in head}
        if isinstance(head, tuple):
            for n, part in enumerate(parts):
                if not isinstance(part, tuple) or len(part) != len(head):
                    raise ValueError(f"{what}: element {n} does not hold the {len(head)} arrays "
                                     "element 0 holds")
            return tuple(join([part[i] for part in parts]) for i in range(len(head)))
        if any(isinstance(part, (dict, tuple)) for part in parts):
            raise ValueError(f"{what}: element 0 is one array but a later element is a dict or list")
        return join(parts)
    except ValueError as exc:
        if str(exc).startswith(what):
            raise
        raise ValueError(f"{what}: the batches do not have one per-sample shape: {exc}") from None


def _keys(part: Any) -> str:
    return repr(sorted(part)) if isinstance(part, dict) else type(part).__name__
