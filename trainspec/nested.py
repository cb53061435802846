"""Inputs and targets of several arrays: a model's several inputs or outputs, as Keras takes them.

``x`` (or ``y``) is one array, a list or tuple of arrays (matched to the model's inputs or
outputs by position) or a dict of arrays (matched by name).  A list of plain numbers or nested
lists is one array, as NumPy reads it; a list or tuple whose items are all arrays (NumPy
arrays or tensors) is a structure of several.  A structure of one array is that array.

No TensorFlow here: recipes are validated at import time of a spec module.

Example:
    >>> import numpy as np
    >>> from trainspec.nested import leaves, n_samples
    >>> x = {"a": np.zeros((8, 3)), "b": np.zeros((8, 2))}
    >>> [name for name, _ in leaves(x, "data x")], n_samples(x)
    (["data x['a']", "data x['b']"], 8)
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

import numpy as np

#: One array, a tuple of arrays (by position) or a dict of arrays (by name).
Arrays = np.ndarray | tuple[np.ndarray, ...] | dict[str, np.ndarray]


def _array_like(value: Any) -> bool:
    """An array or a tensor (not a Python list of numbers)."""
    return isinstance(value, np.ndarray) or (
        hasattr(value, "shape") and hasattr(value, "dtype") and hasattr(value, "__array__")
    )


def is_structure(value: Any) -> bool:
    """True for a dict, or a list/tuple whose items are all arrays or tensors.

    Example:
        >>> is_structure([np.zeros(3), np.ones(3)]), is_structure([[1, 2], [3, 4]])
        (True, False)
    """
    if isinstance(value, Mapping):
        return True
    if isinstance(value, (list, tuple)) and value:
        return all(_array_like(v) or isinstance(v, Mapping) for v in value)
    return False


def read(value: Any, what: str, as_array: Callable[[Any, str], np.ndarray]) -> Arrays:
    """``value`` as one array or a structure of arrays, each read with ``as_array(v, name)``;
    every array must have as many samples as the first.  ``what`` names the field
    (``"data x"``).

    Example:
        >>> read([np.zeros((4, 2)), np.zeros((4, 1))], "data x", lambda v, w: np.asarray(v))[1].shape
        (4, 1)
    """
    if not is_structure(value):
        return as_array(value, what)
    if isinstance(value, Mapping):
        if not value:
            raise ValueError(f"{what} is an empty dict; give one array per model input or output")
        for key in value:
            if not isinstance(key, str):
                raise ValueError(f"{what} keys must be input or output names (str), got {key!r}")
        # a dict of one array stays a dict: it is matched to the model's input or output by name
        out: Arrays = {key: _leaf(v, f"{what}[{key!r}]", as_array) for key, v in value.items()}
    else:
        parts = tuple(_leaf(v, f"{what}[{i}]", as_array) for i, v in enumerate(value))
        out = parts if len(parts) > 1 else parts[0]
    _check_counts(out, what)
    return out


def _leaf(value: Any, what: str, as_array: Callable[[Any, str], np.ndarray]) -> np.ndarray:
    if isinstance(value, (Mapping, list, tuple)) and is_structure(value):
        raise ValueError(f"{what} is itself a list or dict: nested structures are not supported; "
                         "give one array per model input or output")
    return as_array(value, what)


def leaves(value: Arrays, what: str) -> list[tuple[str, np.ndarray]]:
    """``(name, array)`` of every array of ``value``, named as in error messages.

    Example:
        >>> [n for n, _ in leaves((np.zeros(2), np.zeros(2)), "data y")]
        ['data y[0]', 'data y[1]']
    """
    if isinstance(value, dict):
        return [(f"{what}[{key!r}]", v) for key, v in value.items()]
    if isinstance(value, tuple):
        return [(f"{what}[{i}]", v) for i, v in enumerate(value)]
    return [(what, value)]


def first(value: Arrays) -> np.ndarray:
    """The first array of ``value`` (``value`` itself when it is one array)."""
    return leaves(value, "")[0][1]


def n_samples(value: Arrays) -> int:
    """The number of samples (every array of a structure has the same)."""
    return int(first(value).shape[0])


def map_arrays(fn: Callable[[np.ndarray], Any], value: Arrays) -> Any:
    """``fn`` applied to every array, keeping the structure.

    Example:
        >>> map_arrays(len, {"a": np.zeros(3)})
        {'a': 3}
    """
    if isinstance(value, dict):
        return {key: fn(v) for key, v in value.items()}
    if isinstance(value, tuple):
        return tuple(fn(v) for v in value)
    return fn(value)


def same_layout(a: Arrays, b: Arrays) -> bool:
    """True when ``a`` and ``b`` are both one array, tuples of one length or dicts of one key set."""
    if isinstance(a, dict) or isinstance(b, dict):
        return isinstance(a, dict) and isinstance(b, dict) and set(a) == set(b)
    if isinstance(a, tuple) or isinstance(b, tuple):
        return isinstance(a, tuple) and isinstance(b, tuple) and len(a) == len(b)
    return True


def describe(value: Arrays) -> str:
    """``one array``, ``a list of 2 arrays`` or ``a dict of arrays ('a', 'b')``."""
    if isinstance(value, dict):
        return f"a dict of arrays ({', '.join(repr(k) for k in value)})"
    if isinstance(value, tuple):
        return f"a list of {len(value)} arrays"
    return "one array"


def _check_counts(value: Arrays, what: str) -> None:
    parts = leaves(value, what)
    name0, a0 = parts[0]
    for name, array in parts[1:]:
        if array.shape[0] != a0.shape[0]:
            raise ValueError(
                f"{name} has {array.shape[0]} samples but {name0} has {a0.shape[0]}; every "
                "input and target needs one row per sample"
            )
