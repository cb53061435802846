"""A model's several inputs and outputs matched to the recipe's arrays, losses and metrics.

In: the built model, the recipe's ``x`` and ``y`` (one array, a list by position or a dict by
name, see ``trainspec.nested``), its ``loss`` and ``metrics`` (one for every output, or per
output as a list or dict).  Out, for the rest of the engine: ``x`` as one array or a tuple in
the order of ``model.inputs``; for a model of several outputs, ``y`` as a tuple in the order of
its outputs, one loss function summing the per-output means (as Keras' ``fit`` does with
unit loss weights), and metric functions recorded Keras-style per output: ``out_a_loss``,
``out_a_accuracy``.  A model of one input and one output keeps the one-array path unchanged.

Example:
    >>> names = output_names(model, model(x[:2]))       # doctest: +SKIP
    ['out_a', 'out_b']
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

import keras
import numpy as np
import tensorflow as tf

from trainspec import nested
from trainspec.exceptions import DataError, RecipeError


def input_names(model: Any) -> list[str] | None:
    """The names of the model's inputs in the order of ``model.inputs`` (a dict-input model's
    keys), or None when the model has no symbolic inputs (a subclassed model)."""
    try:
        inputs = list(model.inputs)
    except Exception:
        return None
    if not inputs:
        return None
    struct = getattr(model, "_inputs_struct", None)
    if isinstance(struct, dict) and len(struct) == len(inputs):
        return [str(k) for k in keras.tree.flatten({k: k for k in struct})]
    return [str(getattr(t, "name", f"input_{i + 1}")) for i, t in enumerate(inputs)]


def _names(names: list[str]) -> str:
    return ", ".join(repr(n) for n in names)


def match_inputs(x: nested.Arrays, model: Any, what: str, label: str) -> nested.Arrays:
    """``x`` as the model takes it: one array for one input, else a tuple in ``model.inputs``
    order (a dict matched by input name, a list by position).  ``what`` names the field
    (``"data x"``).  A model without symbolic inputs gets ``x`` as given."""
    names = input_names(model)
    if names is None:
        return x
    return _match(x, names, what, label, part="input", item="array")


def feed(model: Any, x: Any) -> Any:
    """Several inputs (a tuple in ``model.inputs`` order) as the model takes them: a dict by
    input name for a model built on a dict of inputs, else a list; one input as it is."""
    if not isinstance(x, tuple):
        return x
    if isinstance(getattr(model, "_inputs_struct", None), dict):
        names = input_names(model)
        if names is not None and len(names) == len(x):
            return dict(zip(names, x, strict=True))
    return list(x)


def output_names(model: Any, y_pred: Any) -> list[str]:
    """The names of the model's outputs in the order the engine keeps them: ``model.outputs``
    order (a dict-output model's keys), or the keys or positions of what the model returned."""
    try:
        names = [str(n) for n in (getattr(model, "output_names", None) or [])]
    except Exception:
        names = []
    if isinstance(y_pred, Mapping):
        keys = [str(k) for k in y_pred]
        return names if sorted(names) == sorted(keys) else sorted(keys)
    if isinstance(y_pred, (list, tuple)):
        if len(names) == len(y_pred) and len(set(names)) == len(names):
            return names
        return [f"output_{i + 1}" for i in range(len(y_pred))]
    if len(names) == 1:
        return names
    layers = getattr(model, "layers", None) or []  # a Sequential: its last layer's name
    return [str(layers[-1].name)] if layers else ["output_1"]


def flat_outputs(names: list[str], y_pred: Any) -> list[Any]:
    """The model's outputs as a list in the order of ``names``."""
    if isinstance(y_pred, Mapping):
        return [y_pred[n] for n in names]
    if isinstance(y_pred, (list, tuple)):
        return list(y_pred)
    return [y_pred]


def match_targets(y: nested.Arrays, names: list[str], what: str, label: str) -> nested.Arrays:
    """``y`` in the order of the outputs ``names``: one array for one output, else a tuple."""
    return _match(y, names, what, label, part="output", item="target array")


def _match(arrays: nested.Arrays, names: list[str], what: str, label: str, *, part: str,
           item: str) -> nested.Arrays:
    """``arrays`` in the order of the model's ``names`` (its inputs or outputs, ``part``): one
    array for one, else a tuple; a list is taken by position, a dict by name."""
    field = what.split()[0]
    n = len(names)
    if isinstance(arrays, np.ndarray):
        if n > 1:
            raise DataError(
                f"the model has {n} {part}s ({_names(names)}) but {what} is one array; give a "
                f"list (by position) or a dict (by {part} name) of {n} {item}s",
                field=field, recipe=label,
            )
        return arrays
    if isinstance(arrays, tuple):
        if len(arrays) != n:
            raise DataError(
                f"{what} is a list of {len(arrays)} {item}s but the model has {n} {part}(s) "
                f"({_names(names)}); give one {item} per {part}",
                field=field, recipe=label,
            )
        return arrays
    for key in arrays:
        if key not in names:
            raise DataError(
                f"{what}[{key!r}] matches no model {part}; the model's {part}s are "
                f"{_names(names)}",
                field=field, recipe=label,
            )
    for name in names:
        if name not in arrays:
            noun = "array" if part == "input" else "target"
            raise DataError(
                f"{what} has no {noun} for the model {part} {name!r}; the model's {part}s are "
                f"{_names(names)}",
                field=field, recipe=label,
            )
    return arrays[names[0]] if n == 1 else tuple(arrays[name] for name in names)


def per_output(spec: Any, names: list[str], field: str, label: str,
               required: bool = True) -> list[Any]:
    """One entry of ``spec`` per output: the same for all, a list by position, a dict by
    name (every output needs one when ``required``)."""
    n = len(names)
    if isinstance(spec, Mapping):
        for key in spec:
            if key not in names:
                raise RecipeError(
                    f"{field}[{key!r}] matches no model output; the model's outputs are "
                    f"{_names(names)}",
                    field=field, recipe=label,
                )
        if required:
            for name in names:
                if name not in spec:
                    raise RecipeError(
                        f"{field} has no entry for the output {name!r}; give one for every "
                        f"model output ({_names(names)}), or one {field} for all",
                        field=field, recipe=label,
                    )
        return [spec.get(name) for name in names]
    if isinstance(spec, list):
        if len(spec) != n:
            raise RecipeError(
                f"{field} is a list of {len(spec)} but the model has {n} output(s) "
                f"({_names(names)}); give one per output, or one {field} for all",
                field=field, recipe=label,
            )
        return list(spec)
    return [spec] * n


def metrics_per_output(metrics: Any, names: list[str], label: str) -> list[tuple[Any, ...]]:
    """The recipe's metrics for each output: a flat tuple applies to every output (as Keras 2
    did), a tuple of tuples by position, a dict by output name (an output left out has none)."""
    if isinstance(metrics, Mapping):
        return [tuple(m or ()) for m in per_output(dict(metrics), names, "metrics", label,
                                                   required=False)]
    if metrics and all(isinstance(m, tuple) for m in metrics):
        return [tuple(m) for m in per_output(list(metrics), names, "metrics", label)]
    return [tuple(metrics)] * len(names)


def total_loss(names: list[str], fns: list[Callable[..., Any]]) -> Callable[..., Any]:
    """``loss(y_true, y_pred)``: the sum over outputs of each output's batch-mean loss."""

    def loss(y_true: Any, y_pred: Any) -> Any:
        outs = flat_outputs(names, y_pred)
        return tf.add_n([
            tf.reduce_mean(tf.cast(fn(t, o), tf.float32))
            for fn, t, o in zip(fns, y_true, outs, strict=True)
        ])

    return loss


def of_output(i: int, names: list[str], fn: Callable[..., Any]) -> Callable[..., Any]:
    """``fn`` (of one output's targets and predictions) applied to output ``i``."""

    def metric(y_true: Any, y_pred: Any) -> Any:
        return fn(y_true[i], flat_outputs(names, y_pred)[i])

    metric.__name__ = f"{names[i]}_{getattr(fn, '__name__', 'metric')}"
    metric.__qualname__ = metric.__name__
    return metric
