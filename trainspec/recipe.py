"""``Recipe``: a small, seeded training run described as validated data.

Validation runs without importing TensorFlow, so building recipes at import time of a spec
module keeps ``pytest --collect-only`` fast.  The data's checks are in
:mod:`trainspec.training_data`; the loss, metric and optimizer names' in
:mod:`trainspec.compile_args`.
"""

from __future__ import annotations

import inspect
import os
import sys
from collections.abc import Callable, Mapping
from typing import Any

import numpy as np
from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from trainspec import nested
from trainspec.compile_args import (
    check_metric_list,
    check_one_loss,
    check_optimizer_name,
    check_optimizer_settings,
    metric_items,
    warn_large_lr,
)
from trainspec.nested import Arrays
from trainspec.training_data import (
    aligned,
    check_inputs_cast,
    check_loss_layout,
    check_targets_cast,
    per_output,
    read_xy,
    sample_shape,
)


def _is_keras_model(value: Any) -> bool:
    keras = sys.modules.get("keras")
    return keras is not None and isinstance(value, keras.Model)


#: The largest seed Keras and NumPy accept (``numpy.random.seed`` takes 32-bit seeds).
MAX_SEED = 2**32 - 1


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
            warn_large_lr(value, "learning_rate")
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
        return read_xy(value, "data")

    @field_validator("validation_data")
    @classmethod
    def _check_validation_data(cls, value: Any) -> tuple[Arrays, Arrays] | None:
        return None if value is None else read_xy(value, "validation_data")

    @field_validator("loss")
    @classmethod
    def _check_loss(cls, value: Any) -> Any:
        # one loss for every output, or one per output: a list (by position), a dict (by name)
        if isinstance(value, (list, tuple)):
            if not value:
                raise ValueError("is an empty list; give one loss per output, or one loss")
            return [check_one_loss(item, f"loss[{i}]") for i, item in enumerate(value)]
        if isinstance(value, Mapping):
            if not value:
                raise ValueError("is an empty dict; give one loss per output name, or one loss")
            out = {}
            for key, item in value.items():
                if not isinstance(key, str):
                    raise ValueError(f"keys of a loss dict are output names, got {key!r}")
                if item is None:
                    raise ValueError(f"loss[{key!r}] is None; every output needs a loss")
                out[key] = check_one_loss(item, f"loss[{key!r}]")
            return out
        return check_one_loss(value, "")

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
            check_optimizer_name(value)
            return value
        if isinstance(value, Mapping):
            name = value.get("name", value.get("class_name"))
            if not isinstance(name, str):
                raise ValueError("an optimizer mapping needs a 'name', e.g. {'name': 'sgd'}")
            check_optimizer_name(name)
            config = value.get("config")
            check_optimizer_settings(
                {**(config if isinstance(config, Mapping) else {}), **value}, check_lr=True
            )
            return dict(value)
        if hasattr(value, "apply_gradients") and hasattr(value, "get_config"):
            try:
                config = value.get_config()
            except Exception:  # a custom optimizer's config is its own business
                config = {}
            check_optimizer_settings(config if isinstance(config, Mapping) else {}, True)
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
                out[key] = check_metric_list(items, f"metrics[{key!r}]")
            return out
        if isinstance(value, (list, tuple)) and any(
            isinstance(v, (list, tuple)) or v is None for v in value
        ):
            if not all(isinstance(v, (list, tuple, str)) or v is None or callable(v)
                       for v in value):
                raise ValueError("per-output metrics are a list of lists, one per output")
            return tuple(check_metric_list(v, f"metrics[{i}]") for i, v in enumerate(value))
        return check_metric_list(value, "")

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
        check_loss_layout(self.loss, y)
        for name, array in nested.leaves(x, "data x"):
            check_inputs_cast(array, name)
        for name, array, loss in per_output(self.loss, y, "data y"):
            check_targets_cast(array, name, loss)
        if self.validation_data is not None:
            vx, vy = self.validation_data
            for part, train_a, val_a in (("x", x, vx), ("y", y, vy)):
                if not nested.same_layout(train_a, val_a):
                    raise ValueError(
                        f"validation_data {part} is {nested.describe(val_a)} but data {part} is "
                        f"{nested.describe(train_a)}; they must match"
                    )
                for train_name, t, val_name, v in aligned(train_a, val_a, part):
                    if sample_shape(v) != sample_shape(t):
                        raise ValueError(
                            f"{val_name} has per-sample shape {v.shape[1:]} but {train_name} "
                            f"has {t.shape[1:]}; they must match"
                        )
            for name, array in nested.leaves(vx, "validation_data x"):
                check_inputs_cast(array, name)
            for name, array, loss in per_output(self.loss, vy, "validation_data y"):
                check_targets_cast(array, name, loss)
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


__all__ = ["MAX_SEED", "Recipe", "metric_items"]
