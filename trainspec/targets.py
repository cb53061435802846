"""Targets checked against the model's outputs and the loss before the first step, so a mismatch
is a message naming the field (``data``, ``validation_data`` or ``loss``), not NaN or an error
from inside the compiled step; and :func:`user_code`, which names the field whose code raised
when trainspec calls it directly (callbacks).

Example:
    >>> import numpy as np
    >>> from trainspec.targets import loss_kind
    >>> loss_kind("sparse_categorical_crossentropy"), loss_kind("BinaryCrossentropy")
    ('sparse', 'binary')
"""

from __future__ import annotations

from collections.abc import Generator
from contextlib import contextmanager
from typing import Any

import numpy as np

from trainspec.exceptions import DataError, RecipeError, TrainspecError
from trainspec.usercode import explain


def loss_kind(name: str | None) -> str | None:
    """``sparse``, ``categorical`` or ``binary`` for the cross-entropy family of a loss name."""
    if not name:
        return None
    flat = name.lower().replace("_", "")
    if "sparsecategorical" in flat:
        return "sparse"
    if "categoricalcrossentropy" in flat or "categoricalfocal" in flat:
        return "categorical"
    if flat == "bce" or "binarycrossentropy" in flat or "binaryfocal" in flat:
        return "binary"
    return None


def _parts(p: Any) -> list[tuple[str, np.ndarray]]:
    parts = [("data", p.train[1])]
    if p.val is not None:
        parts.append(("validation_data", p.val[1]))
    return parts


def check_targets(p: Any, y_pred: Any, what: str = "y") -> None:
    """Targets of the training and validation data against the loss and the model's outputs
    (``p`` is the engine's prepared run; ``what`` names the targets, ``y['out_a']`` for one
    output of several)."""
    kind = loss_kind(p.loss_name)
    if kind is None or p.loss_fn is None:
        return
    n_out = int(y_pred.shape[-1]) if len(y_pred.shape) > 1 else 1
    label = p.recipe.label
    where = "" if what == "y" else f" {what}"  # one output of several: name it
    for field, y in _parts(p):
        shape = tuple(y.shape[1:])
        if kind == "sparse":
            if len(shape) >= 1 and shape[-1] == n_out and n_out > 1:
                raise RecipeError(
                    f"{field} {what} has per-sample shape {shape}, one-hot targets, but "
                    f"{p.loss_name!r} takes class indices: use loss='categorical_crossentropy', "
                    "or pass y.argmax(-1)",
                    field="loss", recipe=label,
                )
            if np.issubdtype(y.dtype, np.integer) and y.size:
                lo, hi = int(y.min()), int(y.max())
                if lo < 0 or hi >= n_out:
                    raise DataError(
                        f"{field}{where} labels range over [{lo}, {hi}] but the model has {n_out} "
                        f"outputs: sparse labels must lie in [0, {n_out - 1}]",
                        field=field, recipe=label,
                    )
        elif kind == "categorical":
            if n_out > 1 and (len(shape) == 0 or shape == (1,)):
                raise RecipeError(
                    f"{field} {what} holds one class index per sample but {p.loss_name!r} takes "
                    f"one-hot targets of shape ({n_out},): use "
                    "loss='sparse_categorical_crossentropy', or keras.utils.to_categorical(y)",
                    field="loss", recipe=label,
                )
        elif kind == "binary" and y.size:
            lo, hi = float(np.min(y)), float(np.max(y))
            if lo < 0 or hi > 1:
                raise DataError(
                    f"{field}{where} targets range over [{lo:g}, {hi:g}] but {p.loss_name!r} takes "
                    "targets in [0, 1] (labels 0 and 1, or probabilities)",
                    field=field, recipe=label,
                )


def loss_hint(loss_name: str | None, y: np.ndarray, y_pred: Any) -> str:
    """A hint for a loss that cannot compare targets with outputs."""
    n_out = int(y_pred.shape[-1]) if len(y_pred.shape) > 1 else 1
    width = y.shape[-1] if y.ndim > 1 else 1
    if width != n_out:
        return (f"; the targets have {width} value(s) per sample and the model {n_out} output(s): "
                "change the last layer or the targets")
    return ""


@contextmanager
def user_code(p: Any, field: str, step: str) -> Generator[None, None, None]:
    """Code of ``field`` called by trainspec directly: an exception names the field and step.

    Example:
        >>> with user_code(prepared, "callbacks", "epoch 3"):        # doctest: +SKIP
        ...     callback.on_epoch_end(3, logs)
    """
    try:
        yield
    except TrainspecError:
        raise
    except Exception as exc:
        raise explain(exc, p.recipe, model=p.model, step=step, field=field) from exc
