"""Stage 2, the traced loop: every step of a chunk in one ``tf.function``, every probe recorded.

In: a ``Prepared``.  Out: ``build_loop(p)``, a ``tf.function`` of ``(x, y, idx)`` (the
training arrays and one row of sample indices per step) returning one array per probe with one
row per step it ran: ``loss``, ``metrics``, ``grad``, ``weight``, ``ratio`` (per layer), ``act``
(per activation: dead, saturated, mean, std), and ``grads``, the gradients of its last step.
The loop stops after the first step with a non-finite value (that row is recorded, for
``assemble`` to name the culprit).  ``histograms`` takes the weight and gradient histograms
eagerly after a call that ended on a histogram step (a handful per run: tracing them into every
step's graph doubled its size).  ``build_eval(p)`` is the validation pass, one ``tf.function``.

The steps loop over ``tf.while_loop`` with results in ``TensorArray``s; Python only regains
control between chunks (for validation, Keras callbacks and progress).  XLA stays off: with op
determinism it is far slower on CPU.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any

import numpy as np
import tensorflow as tf

from trainspec.constants import HISTOGRAM_BINS
from trainspec.engine import probes
from trainspec.engine.prepared import Prepared
from trainspec.engine.step import make_step, mean_loss, regularization
from trainspec.engine.structure import feed

#: Validation samples per batch of the evaluation loop.
EVAL_BATCH = 1024

#: Keys of the per-step arrays the loop returns, in the order of its TensorArrays.
KEYS = ("loss", "metrics", "grad", "weight", "ratio", "act")

_traces = 0


def trace_count() -> int:
    """How many times this process has traced a training loop (runs that reused a traced graph
    do not count).

    Example:
        >>> before = trainspec.engine.trace_count()          # doctest: +SKIP
        >>> runs = [trainspec.train(recipe.replace(learning_rate=lr)) for lr in (0.1, 0.01)]
        >>> trainspec.engine.trace_count() - before          # one graph for both learning rates
        1
    """
    return _traces


def _layer_vars(tensors: list, lp: probes.LayerProbe) -> list:
    return [tensors[j] for j in lp.var_idx]


def weight_norms(p: Prepared, values: list) -> Any:
    """Per-layer L2 norms of the trainable variables' ``values``, ``(n_layers,)``."""
    return tf.stack([probes.group_norm(_layer_vars(values, lp)) for lp in p.layers])


def record_probes(p: Prepared, yb: Any, y_pred: Any, acts: list, grads: list, before: list,
                  after: list) -> dict[str, Any]:
    """One step's probe values: metric means, per-layer gradient and weight norms, the norm of
    the update, activation statistics.  ``before``/``after`` are the trainable variables read
    around the update; the weight norms before it are the previous step's ``weight`` (carried
    by the loop, not computed twice)."""
    metrics = [tf.reduce_mean(tf.cast(fn(yb, y_pred), tf.float32)) for _, fn in p.metric_fns]
    gvec = tf.stack([probes.group_norm(_layer_vars(grads, lp)) for lp in p.layers])
    wvec = weight_norms(p, after)
    moved = tf.stack([
        probes.group_norm(
            [a - b for a, b in zip(_layer_vars(after, lp), _layer_vars(before, lp), strict=True)]
        )
        for lp in p.layers
    ])
    act_stats = [probes.activation_stats(a, ap.kind) for a, ap in zip(acts, p.acts, strict=False)]
    return {
        "metrics": tf.stack(metrics) if metrics else tf.zeros([0]),
        "grad": gvec,
        "weight": wvec,
        "moved": moved,
        "act": tf.stack(act_stats) if act_stats else tf.zeros([0, 4]),
    }


def all_finite(loss: Any, row: dict[str, Any]) -> Any:
    """True when the loss, every gradient and weight norm and every activation statistic of the
    step are finite (the loop stops after the first step where one is not)."""
    checked = tf.concat(
        [tf.reshape(loss, [1]), row["grad"], row["weight"], tf.reshape(row["act"], [-1])], 0
    )
    return tf.reduce_all(tf.math.is_finite(checked))


@functools.cache
def _histogram_of() -> Callable[[Any], Any]:
    """One traced histogram of a flat float32 vector, shared by every layer and run of the
    process (traced once, not once per recipe)."""
    return tf.function(
        lambda values: probes.histogram([values], HISTOGRAM_BINS),
        input_signature=[tf.TensorSpec([None], tf.float32)], autograph=False, jit_compile=False,
    )


def histograms(p: Prepared, variables: list, grads: list) -> tuple[np.ndarray, np.ndarray]:
    """Per-layer weight and gradient histograms, ``(n_layers, HISTOGRAM_BINS, 3)`` each, of the
    trainable ``variables`` and one step's ``grads``.

    Example:
        >>> w, g = histograms(p, p.model.trainable_variables, grads)   # doctest: +SKIP
        >>> w.shape
        (3, 30, 3)
    """
    histogram = _histogram_of()

    def per_layer(tensors: list) -> np.ndarray:
        return np.stack([
            histogram(tf.concat([tf.reshape(tf.cast(t, tf.float32), [-1])
                                 for t in _layer_vars(tensors, lp)], axis=0)).numpy()
            for lp in p.layers
        ])

    return per_layer(list(variables)), per_layer(list(grads))


def _make_body(p: Prepared) -> Callable[..., tuple]:
    """The ``tf.while_loop`` body: gather a batch, step, record the probes."""
    variables = list(p.model.trainable_variables)
    step = make_step(p)

    def body(x: Any, y: Any, idx: Any, i: Any, ok: Any, base: Any, last: tuple, tas: tuple):
        loss_ta, metric_ta, grad_ta, weight_ta, ratio_ta, act_ta = tas
        xb = tf.nest.map_structure(lambda a: tf.gather(a, idx[i]), x)  # several inputs: each
        yb = tf.nest.map_structure(lambda a: tf.gather(a, idx[i]), y)
        before = [tf.identity(v) for v in variables]
        loss, y_pred, acts, grads = step(xb, yb)
        after = [tf.identity(v) for v in variables]  # read after the update (program order)
        row = record_probes(p, yb, y_pred, acts, grads, before, after)
        finite = all_finite(loss, row)
        tas = (
            loss_ta.write(i, loss),
            metric_ta.write(i, row["metrics"]),
            grad_ta.write(i, row["grad"]),
            weight_ta.write(i, row["weight"]),
            ratio_ta.write(i, row["moved"] / tf.maximum(base, 1e-12)),
            act_ta.write(i, row["act"]),
        )
        # dense, in the variables' dtype, so every step's gradients fit the loop variable
        grads = tuple(
            tf.cast(tf.convert_to_tensor(g), v.dtype) for g, v in zip(grads, variables, strict=True)
        )
        return i + 1, finite, row["weight"], grads, tas

    return body


def _spec(array: np.ndarray) -> Any:
    """The traced argument of one array: any number of samples (float32 inputs, int32 or
    float32 targets)."""
    return tf.TensorSpec([None, *array.shape[1:]], tf.as_dtype(array.dtype))


def build_loop(p: Prepared) -> Callable[..., dict[str, Any]]:
    """The traced training loop of ``p`` (traced on its first call).

    Example:
        >>> out = build_loop(p)(x, y, idx)                   # doctest: +SKIP
        >>> out["grad"].shape                                 # (steps, layers)
        TensorShape([20, 3])
    """
    n_layers, n_acts, n_metrics = len(p.layers), len(p.acts), len(p.metric_fns)
    x, y = (tf.nest.map_structure(_spec, a) for a in p.train)
    variables = list(p.model.trainable_variables)
    body = _make_body(p)

    # autograph=False: the loop is written with tf.while_loop/tf.cond directly, which traces in
    # a fraction of the time autograph's source conversion takes.
    @tf.function(
        jit_compile=False,
        autograph=False,
        input_signature=[x, y, tf.TensorSpec([None, None], tf.int32)],
    )
    def loop(x: Any, y: Any, idx: Any) -> dict[str, Any]:
        global _traces
        _traces += 1
        def ta(shape: list[int]) -> Any:
            return tf.TensorArray(tf.float32, size=0, dynamic_size=True, element_shape=shape)

        tas = (
            ta([]), ta([n_metrics]), ta([n_layers]), ta([n_layers]), ta([n_layers]),
            ta([n_acts, 4]),
        )
        n = tf.shape(idx)[0]
        no_grads = tuple(tf.zeros_like(v) for v in variables)
        base = weight_norms(p, [tf.identity(v) for v in variables])
        _, _, _, last, tas = tf.while_loop(
            lambda i, ok, base, last, tas: tf.logical_and(i < n, ok),
            lambda i, ok, base, last, tas: body(x, y, idx, i, ok, base, last, tas),
            (tf.constant(0), tf.constant(True), base, no_grads, tas),
        )
        out = {key: t.stack() for key, t in zip(KEYS, tas, strict=True)}
        out["grads"] = list(last)
        return out

    return loop


def build_eval(p: Prepared) -> Callable[..., Any]:
    """The traced validation pass: ``evaluate(x, y)`` returns ``[loss, *metrics]`` averaged over
    all samples in batches of ``EVAL_BATCH`` (loss 0.0 when ``p`` has no loss function)."""
    model = p.model
    x, y = (tf.nest.map_structure(_spec, a) for a in p.val)  # type: ignore[union-attr]

    @tf.function(jit_compile=False, autograph=False, input_signature=[x, y])
    def evaluate(x: Any, y: Any) -> Any:
        n = tf.shape(tf.nest.flatten(x)[0])[0]
        width = len(p.metric_fns) + 1

        def body(start: Any, total: Any) -> tuple:
            xb = tf.nest.map_structure(lambda a: a[start : start + EVAL_BATCH], x)
            yb = tf.nest.map_structure(lambda a: a[start : start + EVAL_BATCH], y)
            y_pred = model(feed(model, xb), training=False)
            loss = mean_loss(p, yb, y_pred) if p.loss_fn is not None else tf.constant(0.0)
            values = [loss] + [
                tf.reduce_mean(tf.cast(fn(yb, y_pred), tf.float32)) for _, fn in p.metric_fns
            ]
            size = tf.cast(tf.shape(tf.nest.flatten(xb)[0])[0], tf.float32)
            return start + EVAL_BATCH, total + tf.stack(values) * size

        _, total = tf.while_loop(lambda s, t: s < n, body, (tf.constant(0), tf.zeros([width])))
        means = total / tf.cast(n, tf.float32)
        return tf.concat([means[:1] + regularization(model), means[1:]], 0)

    return evaluate
