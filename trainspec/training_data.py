"""A recipe's data, checked without TensorFlow: ``(x, y)`` read from arrays, lists or dicts of
arrays, or a ``tf.data.Dataset``, generator or ``PyDataset`` (read once); numeric, finite,
with matching sample counts; values that survive the engine's float32 inputs and int32 labels;
a per-output loss laid out as the targets are; validation data shaped as the training data.

Example:
    >>> import numpy as np
    >>> from trainspec.training_data import read_xy
    >>> x, y = read_xy((np.zeros((4, 2)), np.zeros(4)), "data")
    >>> x.shape, y.shape
    ((4, 2), (4,))
"""

from __future__ import annotations

import warnings
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from trainspec import nested
from trainspec.exceptions import RecipeWarning
from trainspec.nested import Arrays

#: Integers above this lose exactness as float32 (24-bit significand).
_FLOAT32_EXACT = 2**24
_FLOAT32_MAX = float(np.finfo(np.float32).max)
_INT32 = np.iinfo(np.int32)


def as_array(value: Any, what: str) -> np.ndarray:
    try:
        array = np.asarray(value)
    except Exception as exc:  # ragged lists, objects numpy cannot stack
        raise ValueError(f"{what} cannot be read as an array: {exc}") from None
    if array.dtype == object or not (
        np.issubdtype(array.dtype, np.number) or np.issubdtype(array.dtype, np.bool_)
    ):
        raise ValueError(f"{what} must be numeric, got dtype {array.dtype}")
    if np.issubdtype(array.dtype, np.complexfloating):
        raise ValueError(
            f"{what} is complex ({array.dtype}): training would silently drop the imaginary "
            "part; pass real numbers (e.g. np.abs(x) or the real and imaginary parts as features)"
        )
    if array.ndim == 0:
        raise ValueError(f"{what} must have a leading sample axis, got a scalar")
    if array.shape[0] == 0:
        raise ValueError(f"{what} is empty")
    if np.issubdtype(array.dtype, np.floating):
        bad = ~np.isfinite(array)
        if bad.any():
            first = tuple(int(i) for i in np.argwhere(bad)[0])
            raise ValueError(
                f"{what} contains {int(bad.sum())} NaN/Inf value(s), the first at index {first}; "
                "clean or impute the data before training"
            )
    return array


def read_xy(value: Any, what: str) -> tuple[Arrays, Arrays]:
    from trainspec.sources import is_source, read_source

    if is_source(value):  # a tf.data.Dataset, generator or PyDataset: read once, here
        value = read_source(value, what)
    if not isinstance(value, Sequence) or isinstance(value, str) or len(value) != 2:
        raise ValueError(
            f"{what} must be an (x, y) tuple of arrays, or a finite tf.data.Dataset, generator "
            f"or keras.utils.PyDataset of (x, y) batches, got {type(value).__name__}"
        )
    # x (y) is one array, or a list/dict of arrays for a model of several inputs (outputs)
    x = nested.read(value[0], f"{what} x", as_array)
    y = nested.read(value[1], f"{what} y", as_array)
    if nested.n_samples(x) != nested.n_samples(y):
        if isinstance(x, np.ndarray) and isinstance(y, np.ndarray):
            raise ValueError(
                f"{what} x has {x.shape[0]} samples but y has {y.shape[0]}; they must match"
            )
        (xname, xa), (yname, ya) = nested.leaves(x, f"{what} x")[0], nested.leaves(y, f"{what} y")[0]
        raise ValueError(
            f"{xname} has {xa.shape[0]} samples but {yname} has {ya.shape[0]}; they must match"
        )
    return x, y


def per_output(spec: Any, y: Arrays, what: str) -> list[tuple[str, np.ndarray, Any]]:
    """``(name, target array, its loss)`` for every target of ``y``, with a per-output ``spec``
    (list or dict) matched by position or name; the checks against the model are the engine's."""
    out = []
    for i, (name, array) in enumerate(nested.leaves(y, what)):
        if isinstance(spec, Mapping) and isinstance(y, dict):
            item = spec.get(list(y)[i])
        elif isinstance(spec, (list, tuple)):
            item = spec[i] if i < len(spec) else None
        else:
            item = spec
        out.append((name, array, item))
    return out


def check_loss_layout(loss: Any, y: Arrays) -> None:
    """A per-output loss (list or dict) against the targets, where both say the outputs."""
    if isinstance(loss, (list, tuple)):
        if not isinstance(y, tuple) and not isinstance(y, dict):
            raise ValueError(
                f"loss is a list of {len(loss)} losses (one per output) but data y is one array"
            )
        n = len(y)
        if len(loss) != n:
            raise ValueError(
                f"loss is a list of {len(loss)} losses but data y holds {n} targets; give one "
                "loss per output (or one loss for all)"
            )
    elif isinstance(loss, Mapping):
        if isinstance(y, dict):
            for key in y:
                if key not in loss:
                    raise ValueError(
                        f"loss has no entry for the output {key!r} (data y[{key!r}]); give a "
                        f"loss for every output: {', '.join(repr(k) for k in y)}"
                    )
            for key in loss:
                if key not in y:
                    raise ValueError(
                        f"loss[{key!r}] matches no target of data y (keys: "
                        f"{', '.join(repr(k) for k in y)})"
                    )
        elif not isinstance(y, tuple):
            raise ValueError(
                "loss is a dict (one loss per output) but data y is one array; give y as a dict "
                "of targets by output name, or one loss"
            )


def check_inputs_cast(x: np.ndarray, what: str) -> None:
    """The engine feeds inputs as float32: refuse values that would overflow, warn when
    integers lose exactness."""
    if x.dtype == np.float32 or x.dtype == np.bool_ or x.size == 0:
        return
    if np.issubdtype(x.dtype, np.floating):
        big = float(np.max(np.abs(x)))
        if big > _FLOAT32_MAX:
            raise ValueError(
                f"{what} holds values up to {big:.3g}, beyond float32's {_FLOAT32_MAX:.3g}: "
                "they would become inf when fed to the model; rescale the inputs"
            )
        return
    if np.issubdtype(x.dtype, np.integer):
        big = int(np.max(np.abs(x.astype(np.float64))))
        if big > _FLOAT32_EXACT:
            warnings.warn(RecipeWarning(
                f"{what} holds integers up to {big}, which float32 cannot represent exactly "
                f"(above 2**24): the model sees rounded values; rescale or pass float32 yourself"
            ), stacklevel=4)


def check_targets_cast(y: np.ndarray, what: str, loss: Any) -> None:
    """The engine keeps integer targets as int32 and other targets as float32: refuse values
    that do not fit, warn when a sparse loss would truncate fractional labels."""
    if y.size == 0 or y.dtype == np.bool_:
        return
    if np.issubdtype(y.dtype, np.integer):
        lo, hi = int(y.min()), int(y.max())
        if lo < _INT32.min or hi > _INT32.max:
            raise ValueError(
                f"{what} holds integers in [{lo}, {hi}], outside int32: they would wrap around "
                "when fed to TensorFlow; use class indices or float targets"
            )
        return
    big = float(np.max(np.abs(y)))
    if big > _FLOAT32_MAX:
        raise ValueError(
            f"{what} holds values up to {big:.3g}, beyond float32's {_FLOAT32_MAX:.3g}: they "
            "would become inf; rescale the targets"
        )
    if isinstance(loss, str) and "sparse" in loss.lower():
        fractional = y != np.round(y)
        if fractional.any():
            first = tuple(int(i) for i in np.argwhere(fractional)[0])
            warnings.warn(RecipeWarning(
                f"{what} holds {int(fractional.sum())} fractional label(s) (the first, "
                f"{float(y[first])!r}, at index {first}) but {loss!r} takes class indices: they "
                "would be truncated to integers; pass integer labels"
            ), stacklevel=4)


def aligned(train: Arrays, val: Arrays, part: str) -> list[tuple[str, np.ndarray, str, np.ndarray]]:
    """Training and validation arrays side by side (dicts by key), with their names."""
    if isinstance(train, dict) and isinstance(val, dict):
        return [(f"data {part}[{k!r}]", train[k], f"validation_data {part}[{k!r}]", val[k])
                for k in val]
    return [(tn, t, vn, v) for (tn, t), (vn, v) in zip(
        nested.leaves(train, f"data {part}"), nested.leaves(val, f"validation_data {part}"),
        strict=True)]


def sample_shape(array: np.ndarray) -> tuple[int, ...]:
    """Per-sample shape, with a trailing axis of 1 dropped (``(n,)`` and ``(n, 1)`` labels are
    the same targets to Keras)."""
    shape = tuple(array.shape[1:])
    return shape[:-1] if shape[-1:] == (1,) else shape
