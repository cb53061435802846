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
from types import SimpleNamespace
from typing import Any

import keras
import numpy as np
import tensorflow as tf

from trainspec import nested
from trainspec.engine import probes, structure
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
    if isinstance(loss, (list, tuple, dict)):  # one per output: see setup_outputs
        return None, None
    return _one_loss(loss, recipe)


def _one_loss(loss: Any, recipe: Recipe) -> tuple[Callable[..., Any], str]:
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
    return metric_fns(recipe.metrics, loss_name, y, out_dim)


def metric_fns(items: Any, loss_name: str | None, y: np.ndarray,
               out_dim: int | None) -> list[tuple[str, Callable[..., Any]]]:
    """``(name, fn)`` of each metric of ``items`` (for one output)."""
    fns: list[tuple[str, Callable[..., Any]]] = []
    for item in items:
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
    xb = tf.constant(x[:2]) if isinstance(x, np.ndarray) else model_input(x, 2)
    try:
        y_pred = model(structure.feed(model, xb), training=False)
    except Exception as exc:
        blamed = explain(exc, recipe, model=model, step="the first forward pass")
        if isinstance(blamed, UserCodeError):  # a Lambda or custom layer raised, not the data
            raise blamed from exc
        expected = ""
        try:
            expected = f"; the model expects inputs of shape {_describe_shape(model.input_shape)}"
        except Exception:
            pass
        shapes = ", ".join(f"{name} {_describe_shape(a.shape[1:])}"
                           for name, a in nested.leaves(x, "data x"))
        raise DataError(
            (f"x has per-sample shape {_describe_shape(x.shape[1:])}{expected}: "
             if isinstance(x, np.ndarray) else f"per-sample shapes {shapes}{expected}: ")
            + first_line(exc),
            field="data",
            recipe=recipe.label,
        ) from None
    several = setup_outputs(p, y_pred)
    if not model.trainable_variables:
        raise RecipeError(
            "the model has no trainable weights: nothing would train (are all layers frozen?)",
            field="model",
            recipe=recipe.label,
        )
    if several:
        check_outputs(p, y_pred)
        return
    y = p.train[1]
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


def model_input(x: Any, n: int | None = None) -> Any:
    """Constant tensors of ``x`` (its first ``n`` samples), a list for several inputs."""
    take = (lambda a: tf.constant(a[:n])) if n else tf.constant
    return nested.map_arrays(take, x)


def setup_outputs(p: Prepared, y_pred: Any) -> bool:
    """Match the targets (and a per-output loss) to the model's outputs, seen in ``y_pred``;
    True for a model of several outputs, whose ``p`` then holds targets as a tuple in output
    order, their summed loss, and the per-output names (see ``structure``)."""
    recipe = p.recipe
    names = structure.output_names(p.model, y_pred)
    x, y = p.train
    p.train = (x, structure.match_targets(y, names, "data y", recipe.label))
    if p.val is not None:
        p.val = (p.val[0], structure.match_targets(p.val[1], names, "validation_data y",
                                                   recipe.label))
    spec = recipe.loss if recipe.loss is not None else getattr(p.model, "loss", None)
    per_output = isinstance(spec, (list, tuple, dict))
    if len(names) == 1:
        if per_output:
            p.loss_fn, p.loss_name = _one_loss(
                structure.per_output(_listed(spec), names, "loss", recipe.label)[0], recipe)
        return False
    p.outputs = names
    if per_output or spec is not None:
        specs = structure.per_output(_listed(spec) if per_output else spec, names, "loss",
                                     recipe.label)
        resolved = [_one_loss(item, recipe) for item in specs]
        p.extra["output_losses"] = resolved
        p.loss_fn = structure.total_loss(names, [fn for fn, _ in resolved])
        p.loss_name = None  # a sum over outputs: no single loss to compare with chance
    return True


def _listed(spec: Any) -> Any:
    return list(spec) if isinstance(spec, tuple) else spec


def check_outputs(p: Prepared, y_pred: Any) -> None:
    """Each output's targets against its loss and prediction, on two samples, naming it."""
    recipe, names = p.recipe, p.outputs
    outs = structure.flat_outputs(names, y_pred)
    losses = p.extra.get("output_losses") or [(None, None)] * len(names)
    for i, (name, out, (fn, loss_name)) in enumerate(zip(names, outs, losses, strict=True)):
        y = p.train[1][i]
        view = SimpleNamespace(
            recipe=recipe, loss_fn=fn, loss_name=loss_name, train=(None, y),
            val=None if p.val is None else (None, p.val[1][i]),
        )
        check_targets(view, out, what=f"y[{name!r}]")
        if fn is None:
            continue
        try:
            tf.reduce_mean(fn(tf.constant(y[:2]), out))
        except Exception as exc:
            blamed = explain(exc, recipe, model=p.model, step="the first loss evaluation")
            if isinstance(blamed, UserCodeError):
                raise blamed from exc
            raise DataError(
                f"the loss {loss_name!r} of output {name!r} cannot compare targets data "
                f"y[{name!r}] of per-sample shape {_describe_shape(y.shape[1:])} with outputs of "
                f"shape {_describe_shape(out.shape[1:])}: {first_line(exc)}"
                f"{loss_hint(loss_name, y, out)}",
                field="data",
                recipe=recipe.label,
            ) from None


def probe_model(model: Any, acts: list[probes.ActivationProbe]) -> tuple[Any, list]:
    """A functional view of ``model`` returning the probed activations and the output, sharing
    its layers and weights; ``None`` for subclassed models (activations are then not probed)."""
    try:
        inputs, outputs = model.inputs, list(model.outputs)
        outs = [a.layer.output for a in acts]
        return keras.Model(inputs, outs + outputs), acts
    except Exception:
        return None, []


def _classes(loss_name: str | None, out_dim: int | None, recipe: Recipe) -> int | None:
    """The number of classes an output predicts (None for a regression)."""
    if loss_name and "binary" in loss_name.lower():
        return 2
    if loss_name and "categorical" in loss_name.lower() or recipe.train_step is not None:
        return int(out_dim) if out_dim and out_dim > 1 else None
    return None


def _per_output_metrics(p: Prepared) -> None:
    """Keras-style per-output series: ``<output>_loss`` for each output's loss, then
    ``<output>_<metric>``; the classes of each output for its chance level."""
    names, recipe = p.outputs, p.recipe
    try:
        dims = [o.shape[-1] for o in p.model.outputs]
    except Exception:
        dims = [None] * len(names)
    if len(dims) != len(names) or None in dims:
        y_pred = p.model(structure.feed(p.model, model_input(p.train[0], 1)), training=False)
        dims = [int(o.shape[-1]) for o in structure.flat_outputs(names, y_pred)]
    losses = p.extra.get("output_losses") or [(None, None)] * len(names)
    fns: list[tuple[str, Callable[..., Any]]] = []
    for i, (name, (fn, _)) in enumerate(zip(names, losses, strict=True)):
        if fn is not None:
            fns.append((f"{name}_loss", structure.of_output(i, names, _mean_of(fn))))
    items = structure.metrics_per_output(recipe.metrics, names, recipe.label)
    # one training batch: two samples can broadcast where a batch cannot ([2] with [2, 2])
    n = recipe.batch_size
    outs = structure.flat_outputs(
        names, p.model(structure.feed(p.model, model_input(p.train[0], n)), training=False))
    for i, (name, (_, loss_name)) in enumerate(zip(names, losses, strict=True)):
        for metric, fn in metric_fns(items[i], loss_name, p.train[1][i], dims[i]):
            _check_metric(p, metric, fn, i, outs[i], n)
            fns.append((f"{name}_{metric}", structure.of_output(i, names, fn)))
        p.output_classes[name] = _classes(loss_name, dims[i], recipe)
    p.metric_fns = fns


def _check_metric(p: Prepared, metric: str, fn: Callable[..., Any], i: int, out: Any,
                  n: int) -> None:
    """One output's metric on ``n`` samples, so a metric that cannot take that output's
    targets and predictions is an error naming them, not a failure inside the traced step."""
    name, y = p.outputs[i], p.train[1][i]
    try:
        tf.reduce_mean(tf.cast(fn(tf.constant(y[:n]), out), tf.float32))
    except Exception as exc:
        blamed = explain(exc, p.recipe, model=p.model, step="the first metric evaluation")
        if isinstance(blamed, UserCodeError):
            raise blamed from exc
        raise RecipeError(
            f"the metric {metric!r} of output {name!r} cannot compare targets data y[{name!r}] "
            f"of per-sample shape {_describe_shape(y.shape[1:])} with outputs of shape "
            f"{_describe_shape(out.shape[1:])}: {first_line(exc)}; give this output metrics "
            "of its own (metrics={output: [...]})",
            field="metrics",
            recipe=p.recipe.label,
        ) from None


def _mean_of(fn: Callable[..., Any]) -> Callable[..., Any]:
    def loss(y_true: Any, y_pred: Any) -> Any:
        return tf.reduce_mean(tf.cast(fn(y_true, y_pred), tf.float32))

    loss.__name__ = "loss"
    return loss


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
    # several inputs: a tuple in the order of model.inputs (one array stays one array)
    x = structure.match_inputs(x, model, "data x", recipe.label)
    train_xy = (nested.map_arrays(_as_inputs, x), nested.map_arrays(_as_targets, y))
    val_xy = None if val is None else (
        nested.map_arrays(_as_inputs, structure.match_inputs(val[0], model, "validation_data x",
                                                             recipe.label)),
        nested.map_arrays(_as_targets, val[1]))
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
    p.layers = probes.trainable_layers(model)
    p.probe_model, p.acts = probe_model(model, probes.activation_layers(model))
    p.unprobed = probes.unprobed_layers(model, p.acts, p.probe_model)
    p.frozen = probes.frozen_layers(model)
    p.extra["frozen_start"] = probes.frozen_norms(model, p.frozen)
    p.extra["frozen_before"] = probes.frozen_values(model, p.frozen)
    if p.outputs:
        _per_output_metrics(p)
    else:
        out_dim = model.outputs[0].shape[-1] if getattr(model, "outputs", None) else None
        if out_dim is None:
            out_dim = int(model(structure.feed(model, model_input(p.train[0], 1)),
                                training=False).shape[-1])
        p.metric_fns = resolve_metrics(recipe, p.loss_name, p.train[1], out_dim)
        p.output_activation = probes.output_activation(model)
        p.n_classes = _classes(p.loss_name, out_dim, recipe)
    p.fingerprint = fingerprint_of(p)
    return p

