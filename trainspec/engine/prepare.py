"""Stage 1, prepare: from a ``Recipe`` to a ``Prepared`` ready to trace and train.

In: a ``Recipe``.  Out: a ``Prepared`` (see ``prepared.py``) holding the model built after
seeding, the loss, optimizer and metric functions resolved from names or objects, the data as
float32 inputs and int32/float32 targets, the probed layers, a functional view of the model
returning the probed activations, and the recipe's fingerprint.  Mistakes (a builder that
raises, labels out of range, shapes the model or loss cannot take) are caught here, eagerly
on two samples, and raised as one-sentence ``BuildError``/``DataError``/``RecipeError``.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import keras
import numpy as np
import tensorflow as tf

from trainspec.engine import probes
from trainspec.engine.identify import fingerprint_of
from trainspec.engine.messages import first_line, user_frame
from trainspec.engine.prepared import Prepared
from trainspec.exceptions import BuildError, DataError, RecipeError
from trainspec.recipe import Recipe
from trainspec.targets import check_targets, loss_hint
from trainspec.usercode import UserCodeError, explain


def seed_everything(seed: int) -> None:
    """Reset Keras' session and seed Python, NumPy and TensorFlow; turn op determinism on.

    Example:
        >>> seed_everything(0)                          # doctest: +SKIP
    """
    # Resets layer-name counters, so names are reproducible.  Without the full garbage collection
    # (~0.2 s a run with TensorFlow loaded): Python's collector frees the previous models anyway.
    keras.backend.clear_session(free_memory=False)
    keras.utils.set_random_seed(seed)
    tf.config.experimental.enable_op_determinism()



def build_model(recipe: Recipe) -> Any:
    """A fresh model for ``recipe``: its builder called, or a copy of its model object with
    the same weights (never the user's object).  Raises ``BuildError`` naming the cause.

    Example:
        >>> build_model(recipe).count_params()          # doctest: +SKIP
        1219
    """
    source = recipe.model
    if isinstance(source, keras.Model):
        try:
            if source.built and source.weights:
                model = keras.models.clone_model(source)
                if not model.built:
                    model.build(source.input_shape)
                model.set_weights(source.get_weights())
            else:
                model = keras.models.clone_model(source)
        except Exception:
            # a subclassed model, a config-less custom layer, a Lambda: Keras cannot copy it, so
            # the run trains the user's object and `restore` puts its variables back after
            return source
        return model
    try:
        model = source()
    except Exception as exc:
        name = getattr(source, "__qualname__", repr(source))
        raise BuildError(
            f"the model builder {name}() raised {type(exc).__name__}: {first_line(exc)}"
            f"{user_frame(exc)}",
            field="model",
            recipe=recipe.label,
        ) from None
    if not isinstance(model, keras.Model):
        name = getattr(source, "__qualname__", repr(source))
        raise BuildError(
            f"the model builder {name}() returned {type(model).__name__}, not a keras.Model",
            field="model",
            recipe=recipe.label,
        )
    return model


def resolve_loss(recipe: Recipe, model: Any) -> tuple[Callable[..., Any] | None, str | None]:
    """The loss function and its name, from ``recipe.loss`` or the compiled model; ``(None,
    None)`` for a custom ``train_step`` without one.

    Example:
        >>> resolve_loss(recipe, model)[1]              # doctest: +SKIP
        'sparse_categorical_crossentropy'
    """
    loss = recipe.loss
    if loss is None:
        loss = getattr(model, "loss", None)
    if loss is None:
        if recipe.train_step is not None:
            return None, None
        raise RecipeError(
            "no loss: pass loss=... or a model compiled with a loss", field="loss",
            recipe=recipe.label,
        )
    if isinstance(loss, str):
        try:
            fn = keras.losses.get(loss)
        except Exception as exc:
            raise RecipeError(first_line(exc), field="loss", recipe=recipe.label) from None
        return fn, loss
    name = getattr(loss, "name", None) or getattr(loss, "__name__", None) or type(loss).__name__
    return loss, str(name)


def resolve_optimizer(recipe: Recipe, model: Any) -> Any:
    """A new optimizer from a name, a config dict, an optimizer (copied, without its state) or
    the compiled model's, with ``recipe.learning_rate`` applied.

    Example:
        >>> float(resolve_optimizer(recipe, model).learning_rate)  # doctest: +SKIP
        0.05
    """
    spec = recipe.optimizer
    if spec is None:
        spec = getattr(model, "optimizer", None)
    if spec is None:
        raise RecipeError(
            "no optimizer: pass optimizer=... (e.g. 'sgd') or a compiled model",
            field="optimizer",
            recipe=recipe.label,
        )
    try:
        if isinstance(spec, str):
            config: dict[str, Any] = {}
            name = spec
        elif isinstance(spec, dict):
            config = {k: v for k, v in spec.items() if k not in ("name", "class_name")}
            config = dict(config.pop("config", {}), **config)
            name = spec.get("name", spec.get("class_name"))
        else:  # an optimizer instance: a fresh copy, never the user's object with its state
            config = spec.get_config()
            name = None
        if recipe.learning_rate is not None:
            config["learning_rate"] = recipe.learning_rate
        if name is None:
            return type(spec).from_config(config)
        optimizer = keras.optimizers.get({"class_name": name.lower(), "config": config})
    except Exception as exc:
        raise RecipeError(
            f"could not create optimizer: {first_line(exc)}", field="optimizer",
            recipe=recipe.label,
        ) from None
    return optimizer


def _accuracy_for(loss_name: str | None, y: np.ndarray, out_dim: int | None) -> Callable:
    if out_dim == 1 or (loss_name and "binary" in loss_name.lower()):
        return keras.metrics.binary_accuracy
    if y.ndim >= 2 and out_dim is not None and y.shape[-1] == out_dim:
        return keras.metrics.categorical_accuracy
    return keras.metrics.sparse_categorical_accuracy


_METRIC_FNS = {
    "sparse_categorical_accuracy": lambda: keras.metrics.sparse_categorical_accuracy,
    "categorical_accuracy": lambda: keras.metrics.categorical_accuracy,
    "binary_accuracy": lambda: keras.metrics.binary_accuracy,
    "mae": lambda: keras.metrics.mean_absolute_error,
    "mean_absolute_error": lambda: keras.metrics.mean_absolute_error,
    "mse": lambda: keras.metrics.mean_squared_error,
    "mean_squared_error": lambda: keras.metrics.mean_squared_error,
}


def resolve_metrics(recipe: Recipe, loss_name: str | None, y: np.ndarray,
                    out_dim: int | None) -> list[tuple[str, Callable[..., Any]]]:
    """``(name, fn(y_true, y_pred))`` for each of ``recipe.metrics``; ``"accuracy"`` becomes
    the binary, categorical or sparse accuracy the loss and targets call for.

    Example:
        >>> [name for name, _ in resolve_metrics(recipe, "mse", y, 1)]  # doctest: +SKIP
        ['accuracy']
    """
    fns: list[tuple[str, Callable[..., Any]]] = []
    for item in recipe.metrics:
        if isinstance(item, str):
            if item in ("accuracy", "acc"):
                fn = _accuracy_for(loss_name, y, out_dim)
            else:
                fn = _METRIC_FNS[item]()
            fns.append((item, fn))
        elif isinstance(item, keras.metrics.Metric):
            fns.append((item.name, _stateful(item)))
        else:
            fns.append((getattr(item, "__name__", type(item).__name__), item))
    return fns


def _stateful(metric: Any) -> Callable[..., Any]:
    def fn(y_true: Any, y_pred: Any) -> Any:
        metric.reset_state()
        metric.update_state(y_true, y_pred)
        return metric.result()

    return fn


def _as_inputs(x: np.ndarray) -> np.ndarray:
    return x if x.dtype == np.float32 else x.astype(np.float32)


def _as_targets(y: np.ndarray) -> np.ndarray:
    if np.issubdtype(y.dtype, np.integer) or y.dtype == np.bool_:
        return y.astype(np.int32)
    return y if y.dtype == np.float32 else y.astype(np.float32)


def _describe_shape(shape: Any) -> str:
    return "(" + ", ".join("None" if d is None else str(d) for d in shape) + ")"


def restore(p: Prepared) -> None:
    """Give a model trained in place (the user's object, when Keras could not copy it) back its
    variables as they were before the run: what the user passed is never changed."""
    saved = p.extra.pop("restore", None)
    if saved is None:
        return
    for variable, value in saved:
        variable.assign(value)
    p.model.stop_training = False


def precheck(p: Prepared) -> None:
    """Run the model and loss eagerly on two samples, so shape and label mistakes surface as
    short messages naming the field, not as errors from inside the traced graph."""
    recipe, model = p.recipe, p.model
    x, y = p.train
    xb = tf.constant(x[:2])
    try:
        y_pred = model(xb, training=False)
    except Exception as exc:
        blamed = explain(exc, recipe, model=model, step="the first forward pass")
        if isinstance(blamed, UserCodeError):  # a Lambda or custom layer raised, not the data
            raise blamed from exc
        expected = ""
        try:
            expected = f"; the model expects inputs of shape {_describe_shape(model.input_shape)}"
        except Exception:
            pass
        raise DataError(
            f"x has per-sample shape {_describe_shape(x.shape[1:])}{expected}: "
            f"{first_line(exc)}",
            field="data",
            recipe=recipe.label,
        ) from None
    if isinstance(y_pred, (list, tuple, dict)):
        raise RecipeError(
            "models with several outputs are not supported; give the model one output",
            field="model",
            recipe=recipe.label,
        )
    if not model.trainable_variables:
        raise RecipeError(
            "the model has no trainable weights: nothing would train (are all layers frozen?)",
            field="model",
            recipe=recipe.label,
        )
    if p.loss_name and "sparse" in p.loss_name.lower() and y.dtype == np.int32:
        n_out = int(y_pred.shape[-1])
        lo, hi = int(y.min()), int(y.max())
        if lo < 0 or hi >= n_out:
            raise DataError(
                f"labels range over [{lo}, {hi}] but the model has {n_out} outputs: sparse "
                f"labels must lie in [0, {n_out - 1}]",
                field="data",
                recipe=recipe.label,
            )
    check_targets(p, y_pred)
    if p.loss_fn is not None:
        try:
            value = p.loss_fn(tf.constant(y[:2]), y_pred)
            tf.reduce_mean(value)
        except Exception as exc:
            blamed = explain(exc, recipe, model=model, step="the first loss evaluation")
            if isinstance(blamed, UserCodeError):
                raise blamed from exc
            raise DataError(
                f"the loss {p.loss_name!r} cannot compare targets of per-sample shape "
                f"{_describe_shape(y.shape[1:])} with model outputs of shape "
                f"{_describe_shape(y_pred.shape[1:])}: {first_line(exc)}"
                f"{loss_hint(p.loss_name, y, y_pred)}",
                field="data",
                recipe=recipe.label,
            ) from None


def probe_model(model: Any, acts: list[probes.ActivationProbe]) -> tuple[Any, list]:
    """A functional view of ``model`` returning the probed activations and the output, sharing
    its layers and weights; ``None`` for subclassed models (activations are then not probed)."""
    try:
        inputs, output = model.inputs, model.outputs[0]
        outs = [a.layer.output for a in acts]
        return keras.Model(inputs, outs + [output]), acts
    except Exception:
        return None, []


def prepare(recipe: Recipe) -> Prepared:
    """Stage 1: seed, build, resolve, check eagerly, find the probed layers, fingerprint.

    Example:
        >>> p = prepare(recipe)                         # doctest: +SKIP
        >>> len(p.fingerprint)
        32
    """
    seed_everything(recipe.seed)
    model = build_model(recipe)
    (x, y), val = recipe.split()
    train_xy = (_as_inputs(x), _as_targets(y))
    val_xy = None if val is None else (_as_inputs(val[0]), _as_targets(val[1]))
    loss_fn, loss_name = resolve_loss(recipe, model)
    optimizer = resolve_optimizer(recipe, model)
    p = Prepared(
        recipe=recipe,
        label=recipe.label,
        model=model,
        loss_fn=loss_fn,
        loss_name=loss_name,
        optimizer=optimizer,
        metric_fns=[],
        train=train_xy,
        val=val_xy,
        layers=[],
        acts=[],
        probe_model=None,
        output_activation=None,
        n_classes=None,
    )
    precheck(p)  # builds an unbuilt model: its variables exist from here on
    if model is recipe.model:  # the user's own object: remember every variable to restore it
        p.extra["restore"] = [(v, np.array(v.numpy())) for v in model.variables]
    out_dim = model.outputs[0].shape[-1] if getattr(model, "outputs", None) else None
    if out_dim is None:
        out_dim = int(model(tf.constant(train_xy[0][:1]), training=False).shape[-1])
    p.metric_fns = resolve_metrics(recipe, loss_name, train_xy[1], out_dim)
    p.layers = probes.trainable_layers(model)
    p.probe_model, p.acts = probe_model(model, probes.activation_layers(model))
    p.unprobed = probes.unprobed_layers(model, p.acts, p.probe_model)
    p.frozen = probes.frozen_layers(model)
    p.extra["frozen_start"] = probes.frozen_norms(model, p.frozen)
    p.extra["frozen_before"] = probes.frozen_values(model, p.frozen)
    p.output_activation = probes.output_activation(model)
    if loss_name and "binary" in loss_name.lower():
        p.n_classes = 2
    elif loss_name and "categorical" in loss_name.lower() or recipe.train_step is not None:
        p.n_classes = int(out_dim) if out_dim and out_dim > 1 else None
    p.fingerprint = fingerprint_of(p)
    return p

