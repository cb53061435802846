"""What a recipe may name for its loss, metrics and optimizer, checked without TensorFlow.

Names are checked against Keras 3's registries, mirrored in ``KERAS_OPTIMIZERS`` and
``KERAS_LOSSES`` below (a test keeps them in sync); optimizer settings that make training
ascend or blow up at its first step are refused.

Example:
    >>> from trainspec.compile_args import check_one_loss
    >>> check_one_loss("mse", "")
    'mse'
"""

from __future__ import annotations

import inspect
import math
import sys
import warnings
from collections.abc import Mapping
from typing import Any

import numpy as np

from trainspec.exceptions import RecipeWarning

# Keras 3 registries (keras.src.optimizers / keras.src.losses ALL_OBJECTS_DICT), lower-cased for
# optimizers because ``keras.optimizers.get`` is case-insensitive for them.
KERAS_OPTIMIZERS = frozenset(
    {
        "adadelta", "adafactor", "adagrad", "adam", "adamax", "adamw", "ftrl", "lion",
        "muon", "nadam", "rmsprop", "sgd",
    }
)
KERAS_LOSSES = frozenset(
    {
        "BCE", "BinaryCrossentropy", "BinaryFocalCrossentropy", "CTC", "CategoricalCrossentropy",
        "CategoricalFocalCrossentropy", "CategoricalHinge", "Circle", "CosineSimilarity", "Dice",
        "Hinge", "Huber", "KLD", "KLDivergence", "LogCosh", "MAE", "MAPE", "MSE", "MSLE",
        "MeanAbsoluteError", "MeanAbsolutePercentageError", "MeanSquaredError",
        "MeanSquaredLogarithmicError", "Poisson", "SparseCategoricalCrossentropy", "SquaredHinge",
        "Tversky", "bce", "binary_crossentropy", "binary_focal_crossentropy",
        "categorical_crossentropy", "categorical_focal_crossentropy", "categorical_hinge",
        "circle", "cosine_similarity", "ctc", "dice", "hinge", "huber", "kl_divergence", "kld",
        "log_cosh", "mae", "mape", "mean_absolute_error", "mean_absolute_percentage_error",
        "mean_squared_error", "mean_squared_logarithmic_error", "mse", "msle", "poisson",
        "sparse_categorical_crossentropy", "squared_hinge", "tversky",
    }
)
#: Metric names trainspec computes per step (``accuracy`` resolves from the output shape).
KNOWN_METRICS = frozenset(
    {
        "accuracy", "acc", "sparse_categorical_accuracy", "categorical_accuracy",
        "binary_accuracy", "mae", "mse", "mean_absolute_error", "mean_squared_error",
    }
)



def is_keras_metric(value: Any) -> bool:
    keras = sys.modules.get("keras")
    return keras is not None and isinstance(value, keras.metrics.Metric)


#: Learning rates from this value up make almost every model diverge at its first steps.
LARGE_LEARNING_RATE = 1e3


#: Optimizer settings that must lie in [0, 1): at 1 or above the update grows without bound or
#: divides by zero at the first step; below 0 it points the wrong way.
_UNIT_INTERVAL = ("momentum", "beta_1", "beta_2", "rho", "beta_2_decay")
#: Settings that must be positive when given (0 clips every update to nothing).
_POSITIVE = ("clipnorm", "clipvalue", "global_clipnorm")


def check_optimizer_settings(config: Mapping[str, Any], check_lr: bool) -> None:
    """Refuse optimizer settings that make training ascend or blow up at step 0."""

    def number(key: str) -> float | None:
        value = config.get(key)
        if isinstance(value, bool) or not isinstance(value, (int, float, np.number)):
            return None  # absent, None, or a schedule: checked by Keras
        return float(value)

    lr = number("learning_rate") if check_lr else None
    if lr is not None:
        if not math.isfinite(lr) or lr <= 0:
            raise ValueError(
                f"learning_rate {lr!r} must be a finite number greater than 0 (a negative "
                "learning rate climbs the loss instead of descending it)"
            )
        warn_large_lr(lr, "the optimizer's learning_rate")
    for key in _UNIT_INTERVAL:
        value = number(key)
        if value is not None and not (0 <= value < 1):
            raise ValueError(
                f"{key} {value!r} must lie in [0, 1): at 1 or above the update grows without "
                "bound (or divides by zero at the first step), below 0 it points the wrong way"
            )
    for key in _POSITIVE:
        value = number(key)
        if value is not None and not (math.isfinite(value) and value > 0):
            raise ValueError(f"{key} {value!r} must be a finite number greater than 0")
    eps = number("epsilon")
    if eps is not None:
        if not math.isfinite(eps) or eps < 0:
            raise ValueError(f"epsilon {eps!r} must be a finite number >= 0")
        if eps == 0:
            warnings.warn(RecipeWarning(
                "epsilon=0: an adaptive optimizer divides by zero where a gradient is 0, "
                "which gives NaN at the first step; Keras' default is 1e-7"
            ), stacklevel=4)
    decay = number("weight_decay")
    if decay is not None and not (math.isfinite(decay) and decay >= 0):
        raise ValueError(f"weight_decay {decay!r} must be a finite number >= 0")


def warn_large_lr(lr: float, what: str) -> None:
    if lr >= LARGE_LEARNING_RATE:
        warnings.warn(RecipeWarning(
            f"{what} {lr:g} is at least {LARGE_LEARNING_RATE:g}: almost every model diverges at "
            "its first steps with it (fine for a deliberately broken recipe)"
        ), stacklevel=5)


def metric_name(item: Any) -> str:
    """The name a metric is recorded under (as the engine names it)."""
    if isinstance(item, str):
        return item
    if is_keras_metric(item):
        return str(item.name)
    return str(getattr(item, "__name__", type(item).__name__))


def check_one_loss(value: Any, where: str) -> Any:
    at = f"{where}: " if where else ""
    if inspect.isclass(value):
        raise ValueError(
            f"{at}got the class {value.__name__}; pass an instance: loss={value.__name__}()"
        )
    if value is None or callable(value):
        if value is None and where:
            raise ValueError(f"{where} is None; every output needs a loss")
        return value
    if isinstance(value, str):
        if value not in KERAS_LOSSES:
            raise ValueError(
                f"{at}unknown loss {value!r}; use a Keras loss name such as "
                "'sparse_categorical_crossentropy', 'categorical_crossentropy', "
                "'binary_crossentropy' or 'mse', a keras.losses.Loss, or a callable"
            )
        return value
    raise ValueError(f"{at}must be a loss name, a keras.losses.Loss or a callable, got {value!r}")


def check_metric_list(value: Any, where: str) -> tuple[Any, ...]:
    at = f"{where}: " if where else ""
    if isinstance(value, str) or callable(value):
        value = [value]
    items = tuple(value or ())
    for item in items:
        if inspect.isclass(item):
            raise ValueError(
                f"{at}got the class {item.__name__}; pass an instance ({item.__name__}()) or "
                "a metric name"
            )
        if isinstance(item, str) and item not in KNOWN_METRICS:
            raise ValueError(
                f"{at}unknown metric {item!r}; known: {', '.join(sorted(KNOWN_METRICS))}, "
                "or pass a callable(y_true, y_pred)"
            )
        if not isinstance(item, str) and not callable(item):
            raise ValueError(f"{at}a metric must be a name or a callable, got {item!r}")
    names = [metric_name(item) for item in items]
    twice = sorted({n for n in names if names.count(n) > 1})
    if twice:
        raise ValueError(
            f"{at}two metrics are recorded under the name {twice[0]!r}, so one would hide the "
            "other; give each a distinct name (a function's __name__, a Metric's name=)"
        )
    return items


def metric_items(metrics: Any) -> list[Any]:
    """Every metric of a recipe's ``metrics``, flat (whether given for all outputs or per
    output).

    Example:
        >>> metric_items({"out_a": ("accuracy",), "out_b": ("mae",)})
        ['accuracy', 'mae']
    """
    if isinstance(metrics, Mapping):
        return [m for items in metrics.values() for m in items]
    return [m for item in metrics for m in (item if isinstance(item, tuple) else (item,))]


def check_optimizer_name(name: str) -> None:
    if name.lower() not in KERAS_OPTIMIZERS:
        raise ValueError(
            f"unknown optimizer {name!r}; known: {', '.join(sorted(KERAS_OPTIMIZERS))}"
        )
