"""``Recipe``: a small, seeded training run described as validated data.

Validation runs without importing TensorFlow, so building recipes at import time of a spec
module keeps ``pytest --collect-only`` fast.  Names (optimizer, loss, metric) are checked
against Keras 3's registries, mirrored in ``_KERAS_*`` below (a test keeps them in sync).
"""

from __future__ import annotations

import inspect
import math
import os
import sys
import warnings
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import numpy as np
from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from trainspec import nested
from trainspec.exceptions import RecipeWarning
from trainspec.nested import Arrays

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


def _is_keras_metric(value: Any) -> bool:
    keras = sys.modules.get("keras")
    return keras is not None and isinstance(value, keras.metrics.Metric)


#: The largest seed Keras and NumPy accept (``numpy.random.seed`` takes 32-bit seeds).
MAX_SEED = 2**32 - 1
#: Integers above this lose exactness as float32 (24-bit significand).
_FLOAT32_EXACT = 2**24
_FLOAT32_MAX = float(np.finfo(np.float32).max)
_INT32 = np.iinfo(np.int32)
#: Learning rates from this value up make almost every model diverge at its first steps.
LARGE_LEARNING_RATE = 1e3


def _as_array(value: Any, what: str) -> np.ndarray:
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


def _xy(value: Any, what: str) -> tuple[Arrays, Arrays]:
    from trainspec.sources import is_source, read_source

    if is_source(value):  # a tf.data.Dataset, generator or PyDataset: read once, here
        value = read_source(value, what)
    if not isinstance(value, Sequence) or isinstance(value, str) or len(value) != 2:
        raise ValueError(
            f"{what} must be an (x, y) tuple of arrays, or a finite tf.data.Dataset, generator "
            f"or keras.utils.PyDataset of (x, y) batches, got {type(value).__name__}"
        )
    # x (y) is one array, or a list/dict of arrays for a model of several inputs (outputs)
    x = nested.read(value[0], f"{what} x", _as_array)
    y = nested.read(value[1], f"{what} y", _as_array)
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


def _per_output(spec: Any, y: Arrays, what: str) -> list[tuple[str, np.ndarray, Any]]:
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


def _check_loss_layout(loss: Any, y: Arrays) -> None:
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


def _check_inputs_cast(x: np.ndarray, what: str) -> None:
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


def _check_targets_cast(y: np.ndarray, what: str, loss: Any) -> None:
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


#: Optimizer settings that must lie in [0, 1): at 1 or above the update grows without bound or
#: divides by zero at the first step; below 0 it points the wrong way.
_UNIT_INTERVAL = ("momentum", "beta_1", "beta_2", "rho", "beta_2_decay")
#: Settings that must be positive when given (0 clips every update to nothing).
_POSITIVE = ("clipnorm", "clipvalue", "global_clipnorm")


def _check_optimizer_settings(config: Mapping[str, Any], check_lr: bool) -> None:
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
        _warn_large_lr(lr, "the optimizer's learning_rate")
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


def _warn_large_lr(lr: float, what: str) -> None:
    if lr >= LARGE_LEARNING_RATE:
        warnings.warn(RecipeWarning(
            f"{what} {lr:g} is at least {LARGE_LEARNING_RATE:g}: almost every model diverges at "
            "its first steps with it (fine for a deliberately broken recipe)"
        ), stacklevel=5)


def _metric_name(item: Any) -> str:
    """The name a metric is recorded under (as the engine names it)."""
    if isinstance(item, str):
        return item
    if _is_keras_metric(item):
        return str(item.name)
    return str(getattr(item, "__name__", type(item).__name__))


def _physical_memory() -> int | None:
    try:
        return int(os.sysconf("SC_PHYS_PAGES")) * int(os.sysconf("SC_PAGE_SIZE"))
    except (ValueError, OSError, AttributeError):
        return None


def _reject_bool(value: Any) -> Any:
    if isinstance(value, (bool, np.bool_)):
        raise ValueError(f"must be an integer, got {value!r}")
    return value


class Recipe(BaseModel):
    """A seeded training run: model, loss, optimizer, data and how long to train.

    ``model`` is a ``keras.Model`` (trainspec trains a copy with the same initial weights; a
    model Keras cannot copy, such as a subclassed one, is trained in place and its variables are
    restored after the run) or a zero-argument callable that returns one; the callable runs
    after seeding, so its initial weights are reproducible.  A model compiled with
    ``model.compile(...)`` supplies ``loss`` and ``optimizer`` when they are left out.

    A model of several inputs takes ``x`` as a list (in ``model.inputs`` order) or a dict by
    input name; of several outputs, ``y`` as a list or dict by output name, ``loss`` once or per
    output (list or dict) and ``metrics`` per output (dict or list of lists), recorded as
    ``<output>_loss`` and ``<output>_<metric>`` beside the summed ``loss``.  A custom
    ``train_step`` then receives ``x`` and ``y`` as tuples in model order (``x`` as given to
    a subclassed model, which has no symbolic inputs to match).

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
    data: Any = Field(
        description="Training data: an (x, y) tuple of arrays (x or y a list or dict of arrays "
        "for a model of several inputs or outputs), or a finite tf.data.Dataset, generator or "
        "keras.utils.PyDataset of (x, y) (read once, see trainspec.sources)."
    )
    loss: Any = Field(
        default=None,
        description="Keras loss name, keras.losses.Loss, or callable(y_true, y_pred) -> loss.",
    )
    optimizer: Any = Field(
        default=None,
        description="Keras optimizer name, {'name': ..., **kwargs}, or a keras Optimizer.",
    )
    learning_rate: float | None = Field(
        default=None, gt=0, allow_inf_nan=False, description="Overrides the optimizer's."
    )
    steps: int = Field(default=300, gt=0, description="Optimizer steps to train.")
    batch_size: int = Field(default=32, gt=0)
    seed: int = Field(default=0, ge=0, le=MAX_SEED, description="0 to 2**32 - 1, as NumPy's.")
    metrics: Any = Field(
        default=(), description="Metric names or callables, for every output or per output "
        "(a dict by output name, or a list of lists by position)."
    )
    validation_split: float = Field(default=0.0, ge=0.0, lt=1.0)
    validation_data: Any = Field(
        default=None, description="Validation (x, y) or a source as for data, or None."
    )
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

    @field_validator("steps", "batch_size", "seed", "eval_every", mode="before")
    @classmethod
    def _check_integer(cls, value: Any) -> Any:
        return _reject_bool(value)

    @field_validator("learning_rate")
    @classmethod
    def _check_learning_rate(cls, value: float | None) -> float | None:
        if value is not None:
            _warn_large_lr(value, "learning_rate")
        return value

    @field_validator("name")
    @classmethod
    def _check_name(cls, value: str | None) -> str | None:
        if value is not None and not value.strip():
            raise ValueError("must not be empty or blank (leave it out to use the model's name)")
        return value

    @field_validator("train_step")
    @classmethod
    def _check_train_step(cls, value: Any) -> Any:
        if value is None:
            return value
        try:
            signature = inspect.signature(value)
        except (TypeError, ValueError):
            return value
        try:
            signature.bind(None, None, None, None)
        except TypeError:
            raise ValueError(
                f"train_step is called as train_step(model, optimizer, x, y); "
                f"{getattr(value, '__qualname__', value)!r} has the signature {signature}"
            ) from None
        return value

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
    def _check_data(cls, value: Any) -> tuple[Arrays, Arrays]:
        return _xy(value, "data")

    @field_validator("validation_data")
    @classmethod
    def _check_validation_data(cls, value: Any) -> tuple[Arrays, Arrays] | None:
        return None if value is None else _xy(value, "validation_data")

    @field_validator("loss")
    @classmethod
    def _check_loss(cls, value: Any) -> Any:
        # one loss for every output, or one per output: a list (by position), a dict (by name)
        if isinstance(value, (list, tuple)):
            if not value:
                raise ValueError("is an empty list; give one loss per output, or one loss")
            return [_check_one_loss(item, f"loss[{i}]") for i, item in enumerate(value)]
        if isinstance(value, Mapping):
            if not value:
                raise ValueError("is an empty dict; give one loss per output name, or one loss")
            out = {}
            for key, item in value.items():
                if not isinstance(key, str):
                    raise ValueError(f"keys of a loss dict are output names, got {key!r}")
                if item is None:
                    raise ValueError(f"loss[{key!r}] is None; every output needs a loss")
                out[key] = _check_one_loss(item, f"loss[{key!r}]")
            return out
        return _check_one_loss(value, "")

    @field_validator("optimizer")
    @classmethod
    def _check_optimizer(cls, value: Any) -> Any:
        if value is None:
            return value
        if inspect.isclass(value):
            raise ValueError(
                f"got the class {value.__name__}; pass an instance ({value.__name__}(...)), "
                "a name such as 'sgd', or a mapping"
            )
        if isinstance(value, str):
            _check_optimizer_name(value)
            return value
        if isinstance(value, Mapping):
            name = value.get("name", value.get("class_name"))
            if not isinstance(name, str):
                raise ValueError("an optimizer mapping needs a 'name', e.g. {'name': 'sgd'}")
            _check_optimizer_name(name)
            config = value.get("config")
            _check_optimizer_settings(
                {**(config if isinstance(config, Mapping) else {}), **value}, check_lr=True
            )
            return dict(value)
        if hasattr(value, "apply_gradients") and hasattr(value, "get_config"):
            try:
                config = value.get_config()
            except Exception:  # a custom optimizer's config is its own business
                config = {}
            _check_optimizer_settings(config if isinstance(config, Mapping) else {}, True)
            return value
        raise ValueError(
            f"must be an optimizer name, a mapping or a keras Optimizer, got {value!r}"
        )

    @field_validator("metrics", mode="before")
    @classmethod
    def _check_metrics(cls, value: Any) -> Any:
        # the same metrics for every output (a list), or per output: a dict by output name, or a
        # list of lists by position
        if isinstance(value, Mapping):
            out: dict[str, tuple[Any, ...]] = {}
            for key, items in value.items():
                if not isinstance(key, str):
                    raise ValueError(f"keys of a metrics dict are output names, got {key!r}")
                out[key] = _check_metric_list(items, f"metrics[{key!r}]")
            return out
        if isinstance(value, (list, tuple)) and any(
            isinstance(v, (list, tuple)) or v is None for v in value
        ):
            if not all(isinstance(v, (list, tuple, str)) or v is None or callable(v)
                       for v in value):
                raise ValueError("per-output metrics are a list of lists, one per output")
            return tuple(_check_metric_list(v, f"metrics[{i}]") for i, v in enumerate(value))
        return _check_metric_list(value, "")

    @field_validator("callbacks", mode="before")
    @classmethod
    def _check_callbacks(cls, value: Any) -> tuple[Any, ...]:
        items = tuple(value or ())
        for item in items:
            if inspect.isclass(item):
                raise ValueError(f"got the class {item.__name__}; pass an instance")
            if not hasattr(item, "on_epoch_end"):
                raise ValueError(f"callbacks must be Keras callbacks, got {item!r}")
        return items

    @model_validator(mode="after")
    def _check_sizes(self) -> Recipe:
        n = nested.n_samples(self.data[0])
        n_val = int(n * self.validation_split)
        n_train = n - n_val
        if n_train < 1:
            raise ValueError("validation_split leaves no training samples")
        if self.validation_split and n_val == 0:
            raise ValueError(
                f"validation_split {self.validation_split} of {n} samples leaves no validation "
                f"sample; use at least {1 / n:.3g} or give validation_data"
            )
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
        self._check_schedule_memory(n_train)
        x, y = self.data
        _check_loss_layout(self.loss, y)
        for name, array in nested.leaves(x, "data x"):
            _check_inputs_cast(array, name)
        for name, array, loss in _per_output(self.loss, y, "data y"):
            _check_targets_cast(array, name, loss)
        if self.validation_data is not None:
            vx, vy = self.validation_data
            for part, train_a, val_a in (("x", x, vx), ("y", y, vy)):
                if not nested.same_layout(train_a, val_a):
                    raise ValueError(
                        f"validation_data {part} is {nested.describe(val_a)} but data {part} is "
                        f"{nested.describe(train_a)}; they must match"
                    )
                for train_name, t, val_name, v in _aligned(train_a, val_a, part):
                    if _sample_shape(v) != _sample_shape(t):
                        raise ValueError(
                            f"{val_name} has per-sample shape {v.shape[1:]} but {train_name} "
                            f"has {t.shape[1:]}; they must match"
                        )
            for name, array in nested.leaves(vx, "validation_data x"):
                _check_inputs_cast(array, name)
            for name, array, loss in _per_output(self.loss, vy, "validation_data y"):
                _check_targets_cast(array, name, loss)
        return self

    def _check_schedule_memory(self, n_train: int) -> None:
        """The batch schedule holds one index per sample drawn (steps x batch_size)."""
        needed = self.steps * self.batch_size * 12  # int64 permutations, then int32 indices
        memory = _physical_memory()
        if memory is not None and needed > memory // 2:
            raise ValueError(
                f"steps {self.steps} x batch_size {self.batch_size} needs a batch schedule of "
                f"{needed / 2**30:.1f} GiB, more than half of this machine's "
                f"{memory / 2**30:.1f} GiB; lower steps or batch_size"
            )

    # -- derived views -------------------------------------------------------------------------

    @property
    def has_validation(self) -> bool:
        """True when validation data is given directly or split off the training data."""
        return self.validation_data is not None or self.validation_split > 0

    def split(self) -> tuple[tuple[Arrays, Arrays], tuple[Arrays, Arrays] | None]:
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
        n_val = int(nested.n_samples(x) * self.validation_split)
        if n_val == 0:
            return (x, y), None
        head = lambda a: a[:-n_val]  # noqa: E731
        tail = lambda a: a[-n_val:]  # noqa: E731
        return ((nested.map_arrays(head, x), nested.map_arrays(head, y)),
                (nested.map_arrays(tail, x), nested.map_arrays(tail, y)))

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


def _check_one_loss(value: Any, where: str) -> Any:
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
        if value not in _KERAS_LOSSES:
            raise ValueError(
                f"{at}unknown loss {value!r}; use a Keras loss name such as "
                "'sparse_categorical_crossentropy', 'categorical_crossentropy', "
                "'binary_crossentropy' or 'mse', a keras.losses.Loss, or a callable"
            )
        return value
    raise ValueError(f"{at}must be a loss name, a keras.losses.Loss or a callable, got {value!r}")


def _check_metric_list(value: Any, where: str) -> tuple[Any, ...]:
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
    names = [_metric_name(item) for item in items]
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


def _aligned(train: Arrays, val: Arrays, part: str) -> list[tuple[str, np.ndarray, str, np.ndarray]]:
    """Training and validation arrays side by side (dicts by key), with their names."""
    if isinstance(train, dict) and isinstance(val, dict):
        return [(f"data {part}[{k!r}]", train[k], f"validation_data {part}[{k!r}]", val[k])
                for k in val]
    return [(tn, t, vn, v) for (tn, t), (vn, v) in zip(
        nested.leaves(train, f"data {part}"), nested.leaves(val, f"validation_data {part}"),
        strict=True)]


def _sample_shape(array: np.ndarray) -> tuple[int, ...]:
    """Per-sample shape, with a trailing axis of 1 dropped (``(n,)`` and ``(n, 1)`` labels are
    the same targets to Keras)."""
    shape = tuple(array.shape[1:])
    return shape[:-1] if shape[-1:] == (1,) else shape


def _check_optimizer_name(name: str) -> None:
    if name.lower() not in _KERAS_OPTIMIZERS:
        raise ValueError(
            f"unknown optimizer {name!r}; known: {', '.join(sorted(_KERAS_OPTIMIZERS))}"
        )
