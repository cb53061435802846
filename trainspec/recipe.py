"""``Recipe``: a small, seeded training run described as validated data.

Validation runs without importing TensorFlow, so building recipes at import time of a spec
module keeps ``pytest --collect-only`` fast.  Names (optimizer, loss, metric) are checked
against Keras 3's registries, mirrored in ``_KERAS_*`` below (a test keeps them in sync).
"""

from __future__ import annotations

import inspect
import sys
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import numpy as np
from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

# Keras 3 registries (keras.src.optimizers / keras.src.losses ALL_OBJECTS_DICT), lower-cased for
# optimizers because ``keras.optimizers.get`` is case-insensitive for them.
_KERAS_OPTIMIZERS = frozenset(
    {
        "adadelta", "adafactor", "adagrad", "adam", "adamax", "adamw", "ftrl", "lion",
        "muon", "nadam", "rmsprop", "sgd",
    }
)
_KERAS_LOSSES = frozenset(
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


def _is_keras_model(value: Any) -> bool:
    keras = sys.modules.get("keras")
    return keras is not None and isinstance(value, keras.Model)


def _as_array(value: Any, what: str) -> np.ndarray:
    try:
        array = np.asarray(value)
    except Exception as exc:  # ragged lists, objects numpy cannot stack
        raise ValueError(f"{what} cannot be read as an array: {exc}") from None
    if array.dtype == object or not (
        np.issubdtype(array.dtype, np.number) or np.issubdtype(array.dtype, np.bool_)
    ):
        raise ValueError(f"{what} must be numeric, got dtype {array.dtype}")
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


def _xy(value: Any, what: str) -> tuple[np.ndarray, np.ndarray]:
    if not isinstance(value, Sequence) or isinstance(value, str) or len(value) != 2:
        raise ValueError(f"{what} must be an (x, y) tuple of arrays, got {type(value).__name__}")
    x = _as_array(value[0], f"{what} x")
    y = _as_array(value[1], f"{what} y")
    if x.shape[0] != y.shape[0]:
        raise ValueError(
            f"{what} x has {x.shape[0]} samples but y has {y.shape[0]}; they must match"
        )
    return x, y


class Recipe(BaseModel):
    """A seeded training run: model, loss, optimizer, data and how long to train.

    ``model`` is a built ``keras.Model`` (trainspec trains a copy with the same initial weights,
    never the object you pass) or a zero-argument callable that returns one; the callable runs
    after seeding, so its initial weights are reproducible.  A model compiled with
    ``model.compile(...)`` supplies ``loss`` and ``optimizer`` when they are left out.

    ``train_step`` replaces the compiled loss with your own ``tf.GradientTape`` step, written as
    you would without trainspec (its ``apply_gradients`` calls are observed for the probes)::

        def train_step(model, optimizer, x, y):
            with tf.GradientTape() as tape:
                logits = model(x, training=True)
                loss = tf.reduce_mean(
                    tf.nn.sparse_softmax_cross_entropy_with_logits(labels=y, logits=logits))
            grads = tape.gradient(loss, model.trainable_variables)
            optimizer.apply_gradients(zip(grads, model.trainable_variables))
            return loss

    Example:
        >>> import numpy as np, trainspec
        >>> x = np.random.default_rng(0).normal(size=(256, 4)).astype("float32")
        >>> y = (x[:, 0] > 0).astype("int32")
        >>> def build():
        ...     import keras
        ...     return keras.Sequential([keras.Input((4,)), keras.layers.Dense(2)])
        >>> recipe = trainspec.Recipe(model=build, data=(x, y), steps=100, batch_size=32,
        ...     loss="sparse_categorical_crossentropy", optimizer="sgd", learning_rate=0.1,
        ...     metrics=["accuracy"], seed=0)
        >>> recipe.steps
        100
    """

    model_config = ConfigDict(arbitrary_types_allowed=True, frozen=True, extra="forbid")

    model: Any = Field(description="A keras.Model, or a zero-argument callable returning one.")
    data: Any = Field(description="Training data as an (x, y) tuple of arrays.")
    loss: Any = Field(
        default=None,
        description="Keras loss name, keras.losses.Loss, or callable(y_true, y_pred) -> loss.",
    )
    optimizer: Any = Field(
        default=None,
        description="Keras optimizer name, {'name': ..., **kwargs}, or a keras Optimizer.",
    )
    learning_rate: float | None = Field(default=None, gt=0, description="Overrides the optimizer's.")
    steps: int = Field(default=300, gt=0, description="Optimizer steps to train.")
    batch_size: int = Field(default=32, gt=0)
    seed: int = Field(default=0, ge=0)
    metrics: tuple[Any, ...] = Field(default=(), description="Metric names or callables.")
    validation_split: float = Field(default=0.0, ge=0.0, lt=1.0)
    validation_data: Any = Field(default=None, description="Validation (x, y), or None.")
    eval_every: int | None = Field(
        default=None, gt=0, description="Steps between validation evaluations (for callbacks)."
    )
    callbacks: tuple[Any, ...] = Field(
        default=(), description="Keras callbacks; an 'epoch' is `eval_every` steps."
    )
    train_step: Callable[..., Any] | None = Field(
        default=None, description="Custom step f(model, optimizer, x, y) -> loss."
    )
    name: str | None = Field(default=None, description="Label used in reports.")

    @field_validator("model")
    @classmethod
    def _check_model(cls, value: Any) -> Any:
        if _is_keras_model(value):
            return value
        if not callable(value):
            raise ValueError(
                f"must be a keras.Model or a zero-argument callable returning one, "
                f"got {type(value).__name__}"
            )
        try:
            signature = inspect.signature(value)
        except (TypeError, ValueError):
            return value
        required = [
            p
            for p in signature.parameters.values()
            if p.default is p.empty and p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD)
        ]
        if required:
            names = ", ".join(p.name for p in required)
            raise ValueError(f"a model builder must take no arguments; it requires: {names}")
        return value

    @field_validator("data")
    @classmethod
    def _check_data(cls, value: Any) -> tuple[np.ndarray, np.ndarray]:
        return _xy(value, "data")

    @field_validator("validation_data")
    @classmethod
    def _check_validation_data(cls, value: Any) -> tuple[np.ndarray, np.ndarray] | None:
        return None if value is None else _xy(value, "validation_data")

    @field_validator("loss")
    @classmethod
    def _check_loss(cls, value: Any) -> Any:
        if value is None or callable(value):
            return value
        if isinstance(value, str):
            if value not in _KERAS_LOSSES:
                raise ValueError(
                    f"unknown loss {value!r}; use a Keras loss name such as "
                    "'sparse_categorical_crossentropy', 'categorical_crossentropy', "
                    "'binary_crossentropy' or 'mse', a keras.losses.Loss, or a callable"
                )
            return value
        raise ValueError(f"must be a loss name, a keras.losses.Loss or a callable, got {value!r}")

    @field_validator("optimizer")
    @classmethod
    def _check_optimizer(cls, value: Any) -> Any:
        if value is None:
            return value
        if isinstance(value, str):
            _check_optimizer_name(value)
            return value
        if isinstance(value, Mapping):
            name = value.get("name", value.get("class_name"))
            if not isinstance(name, str):
                raise ValueError("an optimizer mapping needs a 'name', e.g. {'name': 'sgd'}")
            _check_optimizer_name(name)
            return dict(value)
        if hasattr(value, "apply_gradients") and hasattr(value, "get_config"):
            return value
        raise ValueError(
            f"must be an optimizer name, a mapping or a keras Optimizer, got {value!r}"
        )

    @field_validator("metrics", mode="before")
    @classmethod
    def _check_metrics(cls, value: Any) -> tuple[Any, ...]:
        if isinstance(value, str) or callable(value):
            value = [value]
        items = tuple(value or ())
        for item in items:
            if isinstance(item, str) and item not in KNOWN_METRICS:
                raise ValueError(
                    f"unknown metric {item!r}; known: {', '.join(sorted(KNOWN_METRICS))}, "
                    "or pass a callable(y_true, y_pred)"
                )
            if not isinstance(item, str) and not callable(item):
                raise ValueError(f"a metric must be a name or a callable, got {item!r}")
        return items

    @field_validator("callbacks", mode="before")
    @classmethod
    def _check_callbacks(cls, value: Any) -> tuple[Any, ...]:
        items = tuple(value or ())
        for item in items:
            if not hasattr(item, "on_epoch_end"):
                raise ValueError(f"callbacks must be Keras callbacks, got {item!r}")
        return items

    @model_validator(mode="after")
    def _check_sizes(self) -> Recipe:
        n = self.data[0].shape[0]
        n_train = n - int(n * self.validation_split)
        if n_train < 1:
            raise ValueError("validation_split leaves no training samples")
        if self.batch_size > n_train:
            raise ValueError(
                f"batch_size {self.batch_size} is larger than the {n_train} training samples"
            )
        if self.validation_split and self.validation_data is not None:
            raise ValueError("give validation_split or validation_data, not both")
        if self.callbacks and self.eval_every is None:
            raise ValueError("callbacks need eval_every: the number of steps between evaluations")
        if self.callbacks and not self.has_validation:
            monitors = {getattr(cb, "monitor", "") for cb in self.callbacks}
            if any(str(m).startswith("val_") for m in monitors):
                raise ValueError("a callback monitors a val_ metric but there is no validation data")
        return self

    # -- derived views -------------------------------------------------------------------------

    @property
    def has_validation(self) -> bool:
        """True when validation data is given directly or split off the training data."""
        return self.validation_data is not None or self.validation_split > 0

    def split(self) -> tuple[tuple[np.ndarray, np.ndarray], tuple[np.ndarray, np.ndarray] | None]:
        """The (train, validation) data, splitting off the last fraction as Keras' ``fit`` does.

        Example:
            >>> import numpy as np, trainspec
            >>> r = trainspec.Recipe(model=lambda: None, data=(np.zeros((10, 2)), np.zeros(10)),
            ...     batch_size=2, validation_split=0.2)
            >>> [len(part[0]) for part in r.split()]
            [8, 2]
        """
        x, y = self.data
        if self.validation_data is not None:
            return (x, y), self.validation_data
        n_val = int(x.shape[0] * self.validation_split)
        if n_val == 0:
            return (x, y), None
        return (x[:-n_val], y[:-n_val]), (x[-n_val:], y[-n_val:])

    @property
    def label(self) -> str:
        """A short name for reports: ``name`` or the model builder's name."""
        if self.name:
            return self.name
        model = self.model
        if _is_keras_model(model):
            return str(model.name)
        name = getattr(model, "__qualname__", None) or type(model).__name__
        return name.replace("<locals>.", "")

    def replace(self, **changes: Any) -> Recipe:
        """A validated copy with some fields changed (used by sweeps and mutants).

        Example:
            >>> import numpy as np, trainspec
            >>> r = trainspec.Recipe(model=lambda: None, data=(np.zeros((4, 1)), np.zeros(4)),
            ...     batch_size=2)
            >>> r.replace(learning_rate=0.1).learning_rate
            0.1
        """
        values = {name: getattr(self, name) for name in type(self).model_fields}
        values.update(changes)
        return type(self)(**values)


def _check_optimizer_name(name: str) -> None:
    if name.lower() not in _KERAS_OPTIMIZERS:
        raise ValueError(
            f"unknown optimizer {name!r}; known: {', '.join(sorted(_KERAS_OPTIMIZERS))}"
        )
