"""Train a recipe inside one compiled TensorFlow graph and record every probe.

The steps of a run execute in a ``tf.function`` looping over ``tf.range`` with results in
``TensorArray``s; Python only regains control between chunks (for validation, Keras callbacks
and progress).  XLA stays off: with op determinism it is far slower on CPU.
"""

from __future__ import annotations

import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")  # keep TensorFlow's C++ chatter out of pytest

import inspect  # noqa: E402
import json  # noqa: E402
import re  # noqa: E402
import time  # noqa: E402
import traceback  # noqa: E402
from collections import OrderedDict  # noqa: E402
from collections.abc import Callable  # noqa: E402
from dataclasses import dataclass, field, replace  # noqa: E402
from typing import Any  # noqa: E402

import keras  # noqa: E402
import numpy as np  # noqa: E402
import tensorflow as tf  # noqa: E402

from trainspec import probes  # noqa: E402
from trainspec.constants import (  # noqa: E402
    DEFAULT_CHUNK_STEPS,
    HISTOGRAM_BINS,
    HISTOGRAM_SNAPSHOTS,
    ActivationKind,
)
from trainspec.events import LISTENERS, PROGRESS, STORES  # noqa: E402
from trainspec.exceptions import BuildError, DataError, RecipeError, TrainspecError  # noqa: E402
from trainspec.fingerprint import ENGINE_VERSION, Hasher, identity  # noqa: E402
from trainspec.recipe import Recipe  # noqa: E402
from trainspec.run import (  # noqa: E402
    ActivationTrace,
    Histograms,
    LayerTrace,
    NonFinite,
    Run,
    TraceMap,
)
from trainspec.series import Series  # noqa: E402
from trainspec.targets import check_targets, loss_hint, user_code  # noqa: E402
from trainspec.usercode import UserCodeError, explain  # noqa: E402

_EVAL_BATCH = 1024

#: Runs trained in this process, by fingerprint.
_MEMO: dict[str, Run] = {}


def train(recipe: Recipe) -> Run:
    """Train ``recipe`` (or return the run already recorded for an identical recipe).

    Example:
        >>> run = trainspec.train(recipe)              # doctest: +SKIP
        >>> run.loss.relative_decrease() > 0.5
        True
    """
    if not isinstance(recipe, Recipe):
        raise TypeError(f"train() takes a trainspec.Recipe, got {type(recipe).__name__}")
    known = _known_fingerprint(recipe)
    # the same recipe object again: no need to build and hash its model
    run = _MEMO.get(known) if known is not None else None
    if run is None:
        prepared = _prepare(recipe)
        _remember_fingerprint(recipe, prepared.fingerprint)
        run = _recorded_or_trained(prepared)
    if run.label != recipe.label:  # the name is not in the fingerprint: a shared run takes
        run = replace(run, label=recipe.label)  # the asking recipe's, whoever trained it first
    for listener in list(LISTENERS):
        listener(recipe, run)
    return run


def _recorded_or_trained(prepared: _Prepared) -> Run:
    """The run memoised in this process, else one from a store (the disk cache), else trained."""
    fp = prepared.fingerprint
    run = _MEMO.get(fp)
    if run is None:
        run = next((r for store in STORES if (r := store.get(fp)) is not None), None)
        if run is None:
            run = _execute(prepared)
            for store in STORES:
                store.put(fp, run)
        _MEMO[fp] = run
    return run


#: Fingerprints of recipe objects already prepared, by ``id``: (recipe, data digest, fingerprint).
#: Many specs share one recipe object; preparing it again (build, precheck, hashing the
#: weights) costs ~0.3 s per spec.  Recipes are frozen; their arrays are re-hashed in case they
#: were changed in place.
_BY_RECIPE: dict[int, tuple[Recipe, str, str]] = {}


def _data_digest(recipe: Recipe) -> str | None:
    if isinstance(recipe.model, keras.Model) or isinstance(recipe.optimizer,
                                                           keras.optimizers.Optimizer):
        return None  # user objects that may have changed since: always prepare
    h = Hasher()
    for name, part in (("data", recipe.data), ("validation_data", recipe.validation_data)):
        for i, array in enumerate(part or ()):
            h.add(f"{name}{i}", np.asarray(array))
    return h.hexdigest()


def _known_fingerprint(recipe: Recipe) -> str | None:
    entry = _BY_RECIPE.get(id(recipe))
    if entry is None or entry[0] is not recipe:
        return None
    return entry[2] if _data_digest(recipe) == entry[1] else None


def _remember_fingerprint(recipe: Recipe, fingerprint: str) -> None:
    digest = _data_digest(recipe)
    if digest is not None:
        _BY_RECIPE[id(recipe)] = (recipe, digest, fingerprint)


def clear_memo() -> None:
    """Forget the runs trained in this process (the disk cache is untouched)."""
    _MEMO.clear()
    _BY_RECIPE.clear()


def fingerprint(recipe: Recipe) -> str:
    """The recipe's fingerprint (builds the model to hash its initial weights)."""
    return _prepare(recipe).fingerprint


def trace_count() -> int:
    """How many times this process has traced a training loop (runs that reused a traced graph
    do not count).

    Example:
        >>> before = trainspec.engine.trace_count()          # doctest: +SKIP
        >>> runs = [trainspec.train(recipe.replace(learning_rate=lr)) for lr in (0.1, 0.01)]
        >>> trainspec.engine.trace_count() - before          # one graph for both learning rates
        1
    """
    return _TRACES


def clear_graphs() -> None:
    """Forget the traced graphs kept for reuse (the next run of every recipe traces again)."""
    _GRAPHS.clear()


# -- preparation -------------------------------------------------------------------------------


@dataclass
class _Prepared:
    recipe: Recipe
    label: str
    model: Any
    loss_fn: Callable[..., Any] | None
    loss_name: str | None
    optimizer: Any
    metric_fns: list[tuple[str, Callable[..., Any]]]
    train: tuple[np.ndarray, np.ndarray]
    val: tuple[np.ndarray, np.ndarray] | None
    layers: list[probes.LayerProbe]
    acts: list[probes.ActivationProbe]
    probe_model: Any
    output_activation: str | None
    n_classes: int | None
    fingerprint: str = ""
    extra: dict[str, Any] = field(default_factory=dict)


def _seed(seed: int) -> None:
    # Resets layer-name counters, so names are reproducible.  Without the full garbage collection
    # (~0.2 s a run with TensorFlow loaded): Python's collector frees the previous models anyway.
    keras.backend.clear_session(free_memory=False)
    keras.utils.set_random_seed(seed)
    tf.config.experimental.enable_op_determinism()


def _user_frame(exc: BaseException) -> str:
    """``file:line`` of the innermost frame outside TensorFlow, Keras and trainspec."""
    frames = traceback.extract_tb(exc.__traceback__)
    skip = ("tensorflow", "keras", os.sep + "trainspec" + os.sep, "site-packages")
    for frame in reversed(frames):
        if not any(s in frame.filename for s in skip):
            return f" (at {frame.filename}:{frame.lineno})"
    return ""


_TF_NOISE = re.compile(r"\{\{function_node [^}]*\}\}\s*|\s*\[Op:\w+\]( name:\s*\S*)?")


def _first_line(exc: BaseException) -> str:
    """The readable part of an exception message: TensorFlow's node names and Keras' echo of
    the call arguments removed."""
    text = _TF_NOISE.sub(" ", str(exc)).strip() or type(exc).__name__
    lines = [ln.strip() for ln in text.splitlines() if ln.strip()]
    keep = []
    for ln in lines:
        if ln.startswith(("Arguments received by", "Call arguments received", "•")):
            break
        keep.append(ln)
    return " ".join(keep)[:600]


def _build_model(recipe: Recipe) -> Any:
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
        except Exception as exc:
            raise BuildError(
                f"could not copy the model {source.name!r} ({_first_line(exc)}); pass a "
                "zero-argument function that builds it instead",
                field="model",
                recipe=recipe.label,
            ) from None
        return model
    try:
        model = source()
    except Exception as exc:
        name = getattr(source, "__qualname__", repr(source))
        raise BuildError(
            f"the model builder {name}() raised {type(exc).__name__}: {_first_line(exc)}"
            f"{_user_frame(exc)}",
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


def _resolve_loss(recipe: Recipe, model: Any) -> tuple[Callable[..., Any] | None, str | None]:
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
            raise RecipeError(_first_line(exc), field="loss", recipe=recipe.label) from None
        return fn, loss
    name = getattr(loss, "name", None) or getattr(loss, "__name__", None) or type(loss).__name__
    return loss, str(name)


def _resolve_optimizer(recipe: Recipe, model: Any) -> Any:
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
            f"could not create optimizer: {_first_line(exc)}", field="optimizer",
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


def _resolve_metrics(recipe: Recipe, loss_name: str | None, y: np.ndarray, out_dim: int | None):
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


def _precheck(p: _Prepared) -> None:
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
            f"{_first_line(exc)}",
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
                f"{_describe_shape(y_pred.shape[1:])}: {_first_line(exc)}"
                f"{loss_hint(p.loss_name, y, y_pred)}",
                field="data",
                recipe=recipe.label,
            ) from None


def _probe_model(model: Any, acts: list[probes.ActivationProbe]) -> tuple[Any, list]:
    """A functional view of ``model`` returning the probed activations and the output, sharing
    its layers and weights; ``None`` for subclassed models (activations are then not probed)."""
    try:
        inputs, output = model.inputs, model.outputs[0]
        outs = [a.layer.output for a in acts]
        return keras.Model(inputs, outs + [output]), acts
    except Exception:
        return None, []


def _prepare(recipe: Recipe) -> _Prepared:
    _seed(recipe.seed)
    model = _build_model(recipe)
    (x, y), val = recipe.split()
    train_xy = (_as_inputs(x), _as_targets(y))
    val_xy = None if val is None else (_as_inputs(val[0]), _as_targets(val[1]))
    loss_fn, loss_name = _resolve_loss(recipe, model)
    optimizer = _resolve_optimizer(recipe, model)
    p = _Prepared(
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
    _precheck(p)
    out_dim = model.outputs[0].shape[-1] if getattr(model, "outputs", None) else None
    if out_dim is None:
        out_dim = int(model(tf.constant(train_xy[0][:1]), training=False).shape[-1])
    p.metric_fns = _resolve_metrics(recipe, loss_name, train_xy[1], out_dim)
    p.layers = probes.trainable_layers(model)
    p.probe_model, p.acts = _probe_model(model, probes.activation_layers(model))
    p.output_activation = probes.output_activation(model)
    if loss_name and "binary" in loss_name.lower():
        p.n_classes = 2
    elif loss_name and "categorical" in loss_name.lower() or recipe.train_step is not None:
        p.n_classes = int(out_dim) if out_dim and out_dim > 1 else None
    p.fingerprint = _fingerprint(p)
    return p


def _canonical_config(model: Any) -> str:
    """The model's JSON with layer names replaced by their position: Keras numbers layers per
    session (``dense_7``), which must not change the fingerprint."""
    try:
        text = model.to_json()
    except Exception:
        return type(model).__qualname__
    names = [model.name] + [layer.name for layer in probes.leaf_layers(model)]
    names += [layer.name for layer in model.layers]
    # longest first, ties by name: set order follows str hashing, which differs per process
    for i, name in enumerate(sorted(set(names), key=lambda n: (-len(n), n))):
        text = text.replace(f'"{name}"', f'"L{i}"')
    return text


def _fingerprint(p: _Prepared) -> str:
    r = p.recipe
    h = Hasher()
    h.add("engine", ENGINE_VERSION)
    h.add("model", _canonical_config(p.model))
    for w in p.model.get_weights():
        h.add("weight", np.asarray(w))
    h.add("train_x", p.train[0])
    h.add("train_y", p.train[1])
    if p.val is not None:
        h.add("val_x", p.val[0])
        h.add("val_y", p.val[1])
    h.add("loss", identity(r.loss) if r.loss is not None else p.loss_name)
    # without Keras' automatic name (sgd, sgd_1...): it depends on creation order, not the recipe
    h.add("optimizer", identity({k: v for k, v in p.optimizer.get_config().items() if k != "name"}))
    h.add("optimizer_class", type(p.optimizer).__name__)
    for name in ("steps", "batch_size", "seed", "eval_every"):
        h.add(name, getattr(r, name))
    h.add("metrics", [identity(m) for m in r.metrics])
    h.add("callbacks", [identity(c) for c in r.callbacks])
    h.add("train_step", identity(r.train_step) if r.train_step is not None else None)
    return h.hexdigest()[:32]


# -- the compiled loop -------------------------------------------------------------------------


class _ObservedOptimizer:
    """Hands a custom ``train_step`` the real optimizer while keeping the gradients it applies,
    so the probes see them."""

    def __init__(self, optimizer: Any):
        self._optimizer = optimizer
        self.applied: dict[int, Any] = {}

    def apply_gradients(self, grads_and_vars: Any, *args: Any, **kwargs: Any) -> Any:
        pairs = list(grads_and_vars)
        for g, v in pairs:
            if g is not None:
                self.applied[id(v)] = g
        return self._optimizer.apply_gradients(pairs, *args, **kwargs)

    def apply(self, grads: Any, trainable_variables: Any = None) -> Any:
        grads = list(grads)
        if trainable_variables is not None:
            for g, v in zip(grads, trainable_variables, strict=False):
                if g is not None:
                    self.applied[id(v)] = g
        return self._optimizer.apply(grads, trainable_variables)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._optimizer, name)


def _loss_of(result: Any) -> Any:
    if isinstance(result, dict):
        return result["loss"]
    if isinstance(result, (tuple, list)):
        return result[0]
    return result


def _mean_loss(p: _Prepared, y_true: Any, y_pred: Any) -> Any:
    return tf.reduce_mean(tf.cast(p.loss_fn(y_true, y_pred), tf.float32))


def _regularization(model: Any) -> Any:
    losses = model.losses
    return tf.add_n([tf.cast(v, tf.float32) for v in losses]) if losses else tf.constant(0.0)


def _build_loop(p: _Prepared) -> Callable[..., dict[str, Any]]:
    model, optimizer = p.model, p.optimizer
    variables = list(model.trainable_variables)
    n_layers, n_acts, n_metrics = len(p.layers), len(p.acts), len(p.metric_fns)
    x, y = p.train
    custom = p.recipe.train_step
    if custom is not None and inspect.isfunction(custom):
        custom = tf.autograph.to_graph(custom)  # the user's step may branch on tensors
    probe_model = p.probe_model

    def forward(xb: Any, training: bool) -> tuple[list, Any]:
        if probe_model is None:
            return [], model(xb, training=training)
        outs = probe_model(xb, training=training)
        outs = list(outs) if isinstance(outs, (list, tuple)) else [outs]
        return outs[:-1], outs[-1]

    def step(xb: Any, yb: Any) -> tuple[Any, Any, list, list]:
        if custom is None:
            with tf.GradientTape() as tape:
                acts, y_pred = forward(xb, True)
                loss = _mean_loss(p, yb, y_pred) + _regularization(model)
            grads = tape.gradient(loss, variables)
            optimizer.apply_gradients(
                [(g, v) for g, v in zip(grads, variables, strict=False) if g is not None]
            )
        else:
            acts, y_pred = forward(xb, False)
            observed = _ObservedOptimizer(optimizer)
            loss = tf.cast(tf.reduce_mean(_loss_of(custom(model, observed, xb, yb))), tf.float32)
            if not observed.applied:
                raise RecipeError(
                    "train_step never called optimizer.apply_gradients(...) on the optimizer "
                    "it is given, so nothing trains",
                    field="train_step",
                    recipe=p.label,
                )
            grads = [observed.applied.get(id(v)) for v in variables]
        grads = [tf.zeros_like(v) if g is None else g for g, v in zip(grads, variables, strict=False)]
        return loss, y_pred, acts, grads

    def layer_vars(tensors: list, lp: probes.LayerProbe) -> list:
        return [tensors[j] for j in lp.var_idx]

    def body(x: Any, y: Any, idx: Any, hist_flags: Any, i: Any, ok: Any, h: Any, tas: tuple):
        loss_ta, metric_ta, grad_ta, weight_ta, ratio_ta, act_ta, whist_ta, ghist_ta = tas
        xb = tf.gather(x, idx[i])
        yb = tf.gather(y, idx[i])
        before = [tf.identity(v) for v in variables]
        loss, y_pred, acts, grads = step(xb, yb)
        after = [tf.identity(v) for v in variables]  # read after the update (program order)
        metrics = [tf.reduce_mean(tf.cast(fn(yb, y_pred), tf.float32)) for _, fn in p.metric_fns]
        gvec = tf.stack([probes.group_norm(layer_vars(grads, lp)) for lp in p.layers])
        wvec = tf.stack([probes.group_norm(layer_vars(after, lp)) for lp in p.layers])
        moved = tf.stack([
            probes.group_norm(
                [a - b for a, b in zip(layer_vars(after, lp), layer_vars(before, lp), strict=True)]
            )
            for lp in p.layers
        ])
        base = tf.stack([probes.group_norm(layer_vars(before, lp)) for lp in p.layers])
        act_stats = [probes.activation_stats(a, ap.kind) for a, ap in zip(acts, p.acts, strict=False)]
        metric_vec = tf.stack(metrics) if metrics else tf.zeros([0])
        act_mat = tf.stack(act_stats) if act_stats else tf.zeros([0, 4])
        checked = tf.concat([tf.reshape(loss, [1]), gvec, wvec, tf.reshape(act_mat, [-1])], 0)
        finite = tf.reduce_all(tf.math.is_finite(checked))

        def snapshot() -> tuple:
            w = tf.stack([probes.histogram(layer_vars(after, lp), HISTOGRAM_BINS) for lp in p.layers])
            g = tf.stack([probes.histogram(layer_vars(grads, lp), HISTOGRAM_BINS) for lp in p.layers])
            return whist_ta.write(h, w), ghist_ta.write(h, g), h + 1

        whist_ta, ghist_ta, h = tf.cond(
            tf.logical_and(hist_flags[i], finite), snapshot, lambda: (whist_ta, ghist_ta, h)
        )
        tas = (
            loss_ta.write(i, loss),
            metric_ta.write(i, metric_vec),
            grad_ta.write(i, gvec),
            weight_ta.write(i, wvec),
            ratio_ta.write(i, moved / tf.maximum(base, 1e-12)),
            act_ta.write(i, act_mat),
            whist_ta,
            ghist_ta,
        )
        return i + 1, finite, h, tas

    # autograph=False: the loop is written with tf.while_loop/tf.cond directly, which traces in
    # a fraction of the time autograph's source conversion takes.
    @tf.function(
        jit_compile=False,
        autograph=False,
        input_signature=[
            tf.TensorSpec([None, *x.shape[1:]], tf.float32),
            tf.TensorSpec([None, *y.shape[1:]], tf.as_dtype(y.dtype)),
            tf.TensorSpec([None, None], tf.int32),
            tf.TensorSpec([None], tf.bool),
        ],
    )
    def loop(x: Any, y: Any, idx: Any, hist_flags: Any) -> dict[str, Any]:
        global _TRACES
        _TRACES += 1
        def ta(shape: list[int]) -> Any:
            return tf.TensorArray(tf.float32, size=0, dynamic_size=True, element_shape=shape)

        tas = (
            ta([]), ta([n_metrics]), ta([n_layers]), ta([n_layers]), ta([n_layers]),
            ta([n_acts, 4]), ta([n_layers, HISTOGRAM_BINS, 3]), ta([n_layers, HISTOGRAM_BINS, 3]),
        )
        n = tf.shape(idx)[0]
        _, _, _, tas = tf.while_loop(
            lambda i, ok, h, tas: tf.logical_and(i < n, ok),
            lambda i, ok, h, tas: body(x, y, idx, hist_flags, i, ok, h, tas),
            (tf.constant(0), tf.constant(True), tf.constant(0), tas),
        )
        keys = ("loss", "metrics", "grad", "weight", "ratio", "act", "whist", "ghist")
        return {key: t.stack() for key, t in zip(keys, tas, strict=False)}

    return loop


def _build_eval(p: _Prepared) -> Callable[..., Any]:
    model = p.model
    x, y = p.val  # type: ignore[misc]

    @tf.function(
        jit_compile=False,
        autograph=False,
        input_signature=[
            tf.TensorSpec([None, *x.shape[1:]], tf.float32),
            tf.TensorSpec([None, *y.shape[1:]], tf.as_dtype(y.dtype)),
        ],
    )
    def evaluate(x: Any, y: Any) -> Any:
        n = tf.shape(x)[0]
        width = len(p.metric_fns) + 1

        def body(start: Any, total: Any) -> tuple:
            xb = x[start : start + _EVAL_BATCH]
            yb = y[start : start + _EVAL_BATCH]
            y_pred = model(xb, training=False)
            loss = _mean_loss(p, yb, y_pred) if p.loss_fn is not None else tf.constant(0.0)
            values = [loss] + [
                tf.reduce_mean(tf.cast(fn(yb, y_pred), tf.float32)) for _, fn in p.metric_fns
            ]
            return start + _EVAL_BATCH, total + tf.stack(values) * tf.cast(tf.shape(xb)[0], tf.float32)

        _, total = tf.while_loop(lambda s, t: s < n, body, (tf.constant(0), tf.zeros([width])))
        means = total / tf.cast(n, tf.float32)
        return tf.concat([means[:1] + _regularization(model), means[1:]], 0)

    return evaluate


# -- traced graphs shared across runs -----------------------------------------------------------
#
# Tracing the loop costs far more than a short run of a small model, and the graph of a run does
# not depend on every value of its recipe: the data, batch indices and histogram steps are
# arguments of the traced function, and the weights, learning rate, optimizer slots, iteration
# count and dropout seeds are variables it reads.  Runs whose recipes differ only there (a
# learning-rate sweep, the input-noise pair, models differing only in initializers) share one
# traced loop: the new recipe's model and optimizer are still built, after the same seeding, and
# their every variable is copied into the model and optimizer the loop was traced on.  The graph
# and all its inputs are then those a fresh trace would have, so the run records the same bits.
#
# A recipe shares graphs only when its graph key (below) describes everything its graph bakes
# in; otherwise it traces its own (``_graph_key`` returns None).  Optimizer clipping values
# (``clipnorm``, ``clipvalue``, ``global_clipnorm``) and momentum or beta values are Python
# floats Keras writes into the graph as constants, so they stay in the key: changing them traces.

#: Traced loops kept for reuse (least recently used dropped first); each keeps a model and an
#: optimizer alive.  TRAINSPEC_GRAPH_REUSE=0 turns reuse off.
GRAPH_CACHE_SIZE = 4
_GRAPHS: OrderedDict[str, _Graph] = OrderedDict()
_TRACES = 0

#: Stateful ops a shared graph may contain: variable reads and writes and the loop itself.
#: Anything else (a stateful random op in a custom step, say) keeps state outside the variables
#: copied between runs, so such a graph is not shared.
_SHAREABLE_STATEFUL_OPS = frozenset({
    "ReadVariableOp", "AssignVariableOp", "AssignAddVariableOp", "AssignSubVariableOp",
    "ResourceGather", "ResourceGatherNd", "While", "If", "StatefulPartitionedCall", "NoOp",
    "Assert",
})


@dataclass
class _Graph:
    """A traced loop (and evaluation) with the model and optimizer whose variables it reads."""

    model: Any
    optimizer: Any
    loop: Callable[..., Any]
    evaluate: Callable[..., Any] | None


def _reuse_enabled() -> bool:
    return os.environ.get("TRAINSPEC_GRAPH_REUSE", "1").strip().lower() not in ("0", "false", "off", "no")


def _is_keras(obj: Any) -> bool:
    module = getattr(obj, "__module__", None) or type(obj).__module__
    return module.split(".")[0] == "keras"


def _described(value: Any, depth: int = 0) -> bool:
    """True when ``identity(value)`` determines what ``value`` computes: plain values, arrays,
    Keras' own functions and configurable objects, and functions whose defaults and closed-over
    values are themselves described.  A bound method (its object is not hashed), an object known
    only by its type name, or a stateful Keras metric or layer is not."""
    if isinstance(value, (int, float, str, bool, type(None), np.ndarray, np.generic)):
        return True
    if isinstance(value, (list, tuple)):
        return all(_described(v, depth + 1) for v in value)
    if isinstance(value, dict):
        return all(_described(v, depth + 1) for v in value.values())
    if inspect.isfunction(value):
        if _is_keras(value):
            return True
        if depth > 1:  # identity() names deeper functions without hashing them
            return False
        cells = [_cell_value(c) for c in value.__closure__ or ()]
        return _described(list(value.__defaults__ or ()) + cells, depth + 1)
    if isinstance(value, (keras.layers.Layer, keras.metrics.Metric, keras.Variable, tf.Variable)):
        return False
    if _is_keras(value) and callable(getattr(value, "get_config", None)):
        return _described(getattr(value, "fn", None), depth + 1)  # a loss wrapping a function
    return False


def _cell_value(cell: Any) -> Any:
    try:
        return cell.cell_contents
    except ValueError:  # an empty cell
        return None


def _model_described(model: Any) -> bool:
    """True when the model's config determines its graph: Keras' own layers and activations
    only (a custom layer's ``get_config`` may leave out what its ``call`` uses; a ``Lambda``
    wraps a function its config names but does not hash)."""
    for layer in model._flatten_layers(include_self=True, recursive=True):
        if not _is_keras(layer) or isinstance(layer, keras.layers.Lambda):
            return False
        activation = getattr(layer, "activation", None)
        if callable(activation) and not _is_keras(activation):
            return False
    return True


def _without_initializers(config: Any) -> Any:
    """A model config without its initializers: they only make the initial weights, which a
    shared graph receives as variable values."""
    if isinstance(config, dict):
        return {k: _without_initializers(v) for k, v in config.items() if not k.endswith("_initializer")}
    if isinstance(config, list):
        return [_without_initializers(v) for v in config]
    return config


def _graph_key(p: _Prepared) -> str | None:
    """What the traced loop of ``p`` depends on, or None when ``p`` must trace its own.

    The fingerprint without what enters the graph as an argument (data values, batch order,
    steps, batch size, seed) or a variable (initial weights, learning rate)."""
    recipe, model, optimizer = p.recipe, p.model, p.optimizer
    if recipe.callbacks:  # callbacks are handed the model object and may save or change it
        return None
    if not isinstance(optimizer.learning_rate, keras.Variable):  # a schedule is traced in
        return None
    if not _is_keras(optimizer) or not _is_keras(model) or not _model_described(model):
        return None
    loss = recipe.loss if recipe.loss is not None else getattr(model, "loss", None)
    if not _described(loss) or not _described(list(recipe.metrics)):
        return None
    if recipe.train_step is not None and not _described(recipe.train_step):
        return None
    try:
        config = _without_initializers(json.loads(_canonical_config(model)))
    except ValueError:  # not JSON: the model could not be serialised
        return None
    h = Hasher()
    h.add("engine", ENGINE_VERSION)
    h.add("model", config)
    h.add("variables", [(tuple(v.shape), str(v.dtype)) for v in model.variables])
    h.add("optimizer_class", f"{type(optimizer).__module__}.{type(optimizer).__qualname__}")
    opt_config = identity({k: v for k, v in optimizer.get_config().items()
                           if k not in ("learning_rate", "name")})
    h.add("optimizer", opt_config)
    h.add("optimizer_variables", [(tuple(v.shape), str(v.dtype)) for v in optimizer.variables])
    h.add("loss", identity(loss))
    h.add("loss_name", p.loss_name)
    h.add("metrics", [(name, identity(fn)) for name, fn in p.metric_fns])
    h.add("train_step", identity(recipe.train_step) if recipe.train_step is not None else None)
    for part, (x, y) in (("train", p.train), ("val", p.val or (None, None))):
        h.add(part, None if x is None else [x.shape[1:], x.dtype.str, y.shape[1:], y.dtype.str])
    h.add("probes", [p.probe_model is None, [(a.index, a.kind.value) for a in p.acts],
                     [lp.var_idx for lp in p.layers]])
    return h.hexdigest()[:32]


def _known_handles(model: Any, optimizer: Any) -> set[int]:
    return {id(v.value.handle) for v in list(model.variables) + list(optimizer.variables)}


def _shareable(fns: list[Any], model: Any, optimizer: Any) -> bool:
    """True when the traced functions keep all their state in the model's and optimizer's
    variables: they capture nothing else and contain no other stateful op."""
    from tensorflow.python.framework import op_def_registry

    known = _known_handles(model, optimizer)
    for fn in fns:
        concrete = fn.get_concrete_function()
        if any(id(t) not in known for t in concrete.captured_inputs):
            return False
        graph = concrete.graph.as_graph_def()
        ops = {node.op for node in graph.node}
        for function in graph.library.function:
            ops.update(node.op for node in function.node_def)
        ops -= {function.signature.name for function in graph.library.function}
        for op in ops - _SHAREABLE_STATEFUL_OPS:
            op_def = op_def_registry.get(op)
            if op_def is None or op_def.is_stateful:
                return False
    return True


def _adopt(graph: _Graph, p: _Prepared) -> bool:
    """Give the shared graph's model and optimizer the state of ``p``'s freshly built ones:
    weights, non-trainable state (BatchNormalization statistics, dropout seed states), the
    optimizer's iteration count, learning rate and slots.  False when they do not line up."""
    dest = list(graph.model.variables) + list(graph.optimizer.variables)
    source = list(p.model.variables) + list(p.optimizer.variables)
    if len(dest) != len(source):
        return False
    pairs = list(zip(dest, source, strict=True))
    if any(d.shape != s.shape or d.dtype != s.dtype for d, s in pairs):
        return False
    for dest, source in pairs:
        dest.assign(source.value)
    graph.model.stop_training = False
    return True


def _keep(key: str, graph: _Graph) -> None:
    _GRAPHS[key] = graph
    _GRAPHS.move_to_end(key)
    while len(_GRAPHS) > GRAPH_CACHE_SIZE:
        _GRAPHS.popitem(last=False)


def _batch_indices(n: int, steps: int, batch_size: int, seed: int) -> np.ndarray:
    """Sample indices for every step: consecutive seeded epoch permutations, so every batch is
    full and the order depends only on the seed."""
    rng = np.random.default_rng(seed)
    needed = steps * batch_size
    epochs = -(-needed // n)
    order = np.concatenate([rng.permutation(n) for _ in range(epochs)])[:needed]
    return order.reshape(steps, batch_size).astype(np.int32)


def _histogram_steps(steps: int) -> np.ndarray:
    return np.unique(np.linspace(0, steps - 1, HISTOGRAM_SNAPSHOTS).round().astype(np.int64))


def _run_graph(p: _Prepared, fn: Callable[..., Any], *args: Any, step: str | None = None) -> Any:
    try:
        return fn(*args)
    except TrainspecError:
        raise
    except tf.errors.OpError as exc:  # raised while the graph ran
        raise explain(exc, p.recipe, model=p.model, step=step) from exc
    except Exception as exc:  # raised while the graph was traced, before any step ran
        raise explain(exc, p.recipe, model=p.model,
                      step="tracing the training step, before step 0") from exc


def _execute(p: _Prepared) -> Run:
    recipe = p.recipe
    started = time.perf_counter()
    p.optimizer.build(p.model.trainable_variables)
    key = _graph_key(p) if _reuse_enabled() else None
    shared = _GRAPHS.get(key) if key is not None else None
    if shared is not None and _adopt(shared, p):
        _GRAPHS.move_to_end(key)
        model, loop, evaluate = shared.model, shared.loop, shared.evaluate
    else:
        shared = None
        model = p.model
        loop = _build_loop(p)
        evaluate = _build_eval(p) if p.val is not None else None
    x, y = (tf.constant(a) for a in p.train)
    val = None if p.val is None else tuple(tf.constant(a) for a in p.val)
    idx = _batch_indices(len(p.train[0]), recipe.steps, recipe.batch_size, recipe.seed)
    flags = np.zeros(recipe.steps, dtype=bool)
    flags[_histogram_steps(recipe.steps)] = True
    chunk = recipe.eval_every or min(recipe.steps, DEFAULT_CHUNK_STEPS)
    metric_names = [name for name, _ in p.metric_fns]

    for callback in PROGRESS:
        callback(p.label, 0, recipe.steps)
    callbacks = list(recipe.callbacks)
    with user_code(p, "callbacks", "on_train_begin, before step 0"):
        for cb in callbacks:
            cb.set_model(model)
            cb.set_params({"epochs": -(-recipe.steps // chunk), "steps": chunk, "verbose": 0})
            cb.on_train_begin()

    parts: list[dict[str, np.ndarray]] = []
    val_points: list[tuple[int, np.ndarray]] = []
    stopped_early_at = None
    done = 0
    epoch = 0
    while done < recipe.steps:
        end = min(done + chunk, recipe.steps)
        out = _run_graph(p, loop, x, y, tf.constant(idx[done:end]), tf.constant(flags[done:end]),
                         step=f"a step from {done} to {end - 1}")
        part = {k: v.numpy() for k, v in out.items()}
        parts.append(part)
        recorded = len(part["loss"])
        for callback in PROGRESS:
            callback(p.label, done + recorded, recipe.steps)
        if recorded < end - done or not _finite_row(part, -1):
            break  # the loop stopped at a non-finite value
        done = end
        if recipe.eval_every and (done % recipe.eval_every == 0 or done == recipe.steps):
            logs = {"loss": float(np.mean(part["loss"]))}
            logs.update({n: float(np.mean(part["metrics"][:, i])) for i, n in enumerate(metric_names)})
            if evaluate is not None:
                values = _run_graph(p, evaluate, *val,
                                    step=f"the validation after step {done - 1}").numpy()
                val_points.append((done - 1, values))
                logs.update(_val_logs(p, values))
            with user_code(p, "callbacks", f"on_epoch_end of epoch {epoch}, after step {done - 1}"):
                for cb in callbacks:
                    cb.on_epoch_end(epoch, logs)
            epoch += 1
            if getattr(model, "stop_training", False):
                stopped_early_at = done
                break
    with user_code(p, "callbacks", "on_train_end"):
        for cb in callbacks:
            cb.on_train_end()

    final_val: dict[str, float] = {}
    if evaluate is not None:
        final_val = _val_logs(p, _run_graph(p, evaluate, *val, step="the final validation").numpy())
    if key is not None and shared is None:
        fns = [loop] if evaluate is None else [loop, evaluate]
        if _shareable(fns, p.model, p.optimizer):
            _keep(key, _Graph(p.model, p.optimizer, loop, evaluate))
    return _assemble(p, parts, val_points, final_val, stopped_early_at,
                     time.perf_counter() - started)


def _val_logs(p: _Prepared, values: np.ndarray) -> dict[str, float]:
    logs = {}
    if p.loss_fn is not None:
        logs["val_loss"] = float(values[0])
    for i, (name, _) in enumerate(p.metric_fns):
        logs[f"val_{name}"] = float(values[i + 1])
    return logs


def _finite_row(part: dict[str, np.ndarray], row: int) -> bool:
    if not len(part["loss"]):
        return True
    values = [part["loss"][row : row + 1 or None], part["grad"][row], part["weight"][row],
              part["act"][row].ravel()]
    return bool(all(np.all(np.isfinite(v)) for v in values))


def _nonfinite(p: _Prepared, part: dict[str, np.ndarray], step: int) -> NonFinite:
    """Name the first tensor that was not finite on the last recorded row."""
    loss = float(part["loss"][-1])
    if not np.isfinite(loss):
        return NonFinite(step, "loss", loss)
    for kind, key in (("gradient", "grad"), ("weights", "weight")):
        row = part[key][-1]
        for lp, value in zip(p.layers, row, strict=False):
            if not np.isfinite(value):
                return NonFinite(step, f"{kind} of layer {lp.name!r}", float(value))
    row = part["act"][-1]
    for ap, stats in zip(p.acts, row, strict=False):
        if not np.all(np.isfinite(stats)):
            bad = float(stats[~np.isfinite(stats)][0])
            return NonFinite(step, f"activations of layer {ap.name!r}", bad)
    return NonFinite(step, "loss", loss)


def _assemble(
    p: _Prepared,
    parts: list[dict[str, np.ndarray]],
    val_points: list[tuple[int, np.ndarray]],
    final_val: dict[str, float],
    stopped_early_at: int | None,
    wall_time: float,
) -> Run:
    def cat(key: str) -> np.ndarray:
        return np.concatenate([part[key] for part in parts], axis=0)

    data = {key: cat(key) for key in parts[0]}
    nonfinite = None
    if len(data["loss"]) and not _finite_row(data, -1):
        step = len(data["loss"]) - 1
        nonfinite = _nonfinite(p, data, step)
        data = {k: v[:-1] if k not in ("whist", "ghist") else v for k, v in data.items()}
    steps = np.arange(len(data["loss"]), dtype=np.int64)
    layers = [
        LayerTrace(
            name=lp.name,
            index=lp.index,
            class_name=type(lp.layer).__name__,
            n_params=lp.n_params,
            grad_norm=Series(f"{lp.name}.grad_norm", data["grad"][:, i], steps),
            weight_norm=Series(f"{lp.name}.weight_norm", data["weight"][:, i], steps),
            update_ratio=Series(f"{lp.name}.update_ratio", data["ratio"][:, i], steps),
        )
        for i, lp in enumerate(p.layers)
    ]
    acts = [
        ActivationTrace(
            name=ap.name,
            index=ap.index,
            kind=ap.kind,
            activation=ap.activation,
            units=int(ap.layer.output.shape[-1]),
            dead=Series(f"{ap.name}.dead", data["act"][:, i, 0], steps),
            saturated=Series(f"{ap.name}.saturated", data["act"][:, i, 1], steps),
            mean=Series(f"{ap.name}.mean", data["act"][:, i, 2], steps),
            std=Series(f"{ap.name}.std", data["act"][:, i, 3], steps),
        )
        for i, ap in enumerate(p.acts)
    ]
    metrics = {
        name: Series(name, data["metrics"][:, i], steps) for i, (name, _) in enumerate(p.metric_fns)
    }
    val_history: dict[str, Series] = {}
    if val_points:
        at = np.array([s for s, _ in val_points], dtype=np.int64)
        table = np.stack([v for _, v in val_points])
        names = (["val_loss"] if p.loss_fn is not None else []) + [
            f"val_{n}" for n, _ in p.metric_fns
        ]
        offset = 0 if p.loss_fn is not None else 1
        for j, name in enumerate(names):
            val_history[name] = Series(name, table[:, j + offset], at)
    hist_steps = _histogram_steps(p.recipe.steps)[: len(data["whist"])]
    histograms = (
        Histograms(hist_steps, data["whist"], data["ghist"]) if len(data["whist"]) else None
    )
    return Run(
        label=p.label,
        seed=p.recipe.seed,
        steps_requested=p.recipe.steps,
        batch_size=p.recipe.batch_size,
        loss=Series("loss", data["loss"], steps),
        metrics=metrics,
        layers=TraceMap(layers),
        activations=TraceMap(acts),
        nonfinite=nonfinite,
        val_history=val_history,
        val=final_val,
        stopped_early_at=stopped_early_at,
        histograms=histograms,
        fingerprint=p.fingerprint,
        wall_time=wall_time,
        n_classes=p.n_classes,
        output_activation=p.output_activation,
        loss_name=p.loss_name,
    )


__all__ = ["train", "fingerprint", "clear_memo", "ActivationKind"]
