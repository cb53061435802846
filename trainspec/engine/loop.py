"""Stage 2, the traced loop: every step of a chunk in one ``tf.function``, every probe recorded.

In: a ``Prepared``.  Out: ``build_loop(p)``, a ``tf.function`` of ``(x, y, idx, hist_flags)``
(the training arrays, one row of sample indices per step, and which steps take histograms)
returning one array per probe with one row per step it ran: ``loss``, ``metrics``, ``grad``,
``weight``, ``ratio`` (per layer), ``act`` (per activation: dead, saturated, mean, std) and the
``whist``/``ghist`` snapshots.  The loop stops after the first step with a non-finite value
(that row is recorded, for ``assemble`` to name the culprit).  ``build_eval(p)`` is the
validation pass, also one ``tf.function``.

The steps loop over ``tf.while_loop`` with results in ``TensorArray``s; Python only regains
control between chunks (for validation, Keras callbacks and progress).  XLA stays off: with op
determinism it is far slower on CPU.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import tensorflow as tf

from trainspec.constants import HISTOGRAM_BINS
from trainspec.engine import probes
from trainspec.engine.prepared import Prepared
from trainspec.engine.step import make_step, mean_loss, regularization

#: Validation samples per batch of the evaluation loop.
EVAL_BATCH = 1024

#: Keys of the arrays the loop returns, in the order of its TensorArrays.
KEYS = ("loss", "metrics", "grad", "weight", "ratio", "act", "whist", "ghist")

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


def record_probes(p: Prepared, yb: Any, y_pred: Any, acts: list, grads: list, before: list,
                  after: list) -> dict[str, Any]:
    """One step's probe values: metric means, per-layer gradient and weight norms, the norms of
    the update and of the weights before it (their ratio is the update ratio), activation
    statistics.  ``before``/``after`` are the trainable variables read around the update."""
    metrics = [tf.reduce_mean(tf.cast(fn(yb, y_pred), tf.float32)) for _, fn in p.metric_fns]
    gvec = tf.stack([probes.group_norm(_layer_vars(grads, lp)) for lp in p.layers])
    wvec = tf.stack([probes.group_norm(_layer_vars(after, lp)) for lp in p.layers])
    moved = tf.stack([
        probes.group_norm(
            [a - b for a, b in zip(_layer_vars(after, lp), _layer_vars(before, lp), strict=True)]
        )
        for lp in p.layers
    ])
    base = tf.stack([probes.group_norm(_layer_vars(before, lp)) for lp in p.layers])
    act_stats = [probes.activation_stats(a, ap.kind) for a, ap in zip(acts, p.acts, strict=False)]
    return {
        "metrics": tf.stack(metrics) if metrics else tf.zeros([0]),
        "grad": gvec,
        "weight": wvec,
        "moved": moved,
        "base": base,
        "act": tf.stack(act_stats) if act_stats else tf.zeros([0, 4]),
    }


def all_finite(loss: Any, row: dict[str, Any]) -> Any:
    """True when the loss, every gradient and weight norm and every activation statistic of the
    step are finite (the loop stops after the first step where one is not)."""
    checked = tf.concat(
        [tf.reshape(loss, [1]), row["grad"], row["weight"], tf.reshape(row["act"], [-1])], 0
    )
    return tf.reduce_all(tf.math.is_finite(checked))


def histogram_snapshot(p: Prepared, after: list, grads: list) -> tuple[Any, Any]:
    """Per-layer weight and gradient histograms, ``(n_layers, HISTOGRAM_BINS, 3)`` each."""
    w = tf.stack([probes.histogram(_layer_vars(after, lp), HISTOGRAM_BINS) for lp in p.layers])
    g = tf.stack([probes.histogram(_layer_vars(grads, lp), HISTOGRAM_BINS) for lp in p.layers])
    return w, g


def _make_body(p: Prepared) -> Callable[..., tuple]:
    """The ``tf.while_loop`` body: gather a batch, step, record the probes, maybe histograms."""
    variables = list(p.model.trainable_variables)
    step = make_step(p)

    def body(x: Any, y: Any, idx: Any, hist_flags: Any, i: Any, ok: Any, h: Any, tas: tuple):
        loss_ta, metric_ta, grad_ta, weight_ta, ratio_ta, act_ta, whist_ta, ghist_ta = tas
        xb = tf.gather(x, idx[i])
        yb = tf.gather(y, idx[i])
        before = [tf.identity(v) for v in variables]
        loss, y_pred, acts, grads = step(xb, yb)
        after = [tf.identity(v) for v in variables]  # read after the update (program order)
        row = record_probes(p, yb, y_pred, acts, grads, before, after)
        finite = all_finite(loss, row)

        def snapshot() -> tuple:
            w, g = histogram_snapshot(p, after, grads)
            return whist_ta.write(h, w), ghist_ta.write(h, g), h + 1

        whist_ta, ghist_ta, h = tf.cond(
            tf.logical_and(hist_flags[i], finite), snapshot, lambda: (whist_ta, ghist_ta, h)
        )
        tas = (
            loss_ta.write(i, loss),
            metric_ta.write(i, row["metrics"]),
            grad_ta.write(i, row["grad"]),
            weight_ta.write(i, row["weight"]),
            ratio_ta.write(i, row["moved"] / tf.maximum(row["base"], 1e-12)),
            act_ta.write(i, row["act"]),
            whist_ta,
            ghist_ta,
        )
        return i + 1, finite, h, tas

    return body


def build_loop(p: Prepared) -> Callable[..., dict[str, Any]]:
    """The traced training loop of ``p`` (traced on its first call).

    Example:
        >>> out = build_loop(p)(x, y, idx, flags)            # doctest: +SKIP
        >>> out["grad"].shape                                 # (steps, layers)
        TensorShape([20, 3])
    """
    n_layers, n_acts, n_metrics = len(p.layers), len(p.acts), len(p.metric_fns)
    x, y = p.train
    body = _make_body(p)

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
        global _traces
        _traces += 1
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
        return {key: t.stack() for key, t in zip(KEYS, tas, strict=False)}

    return loop


def build_eval(p: Prepared) -> Callable[..., Any]:
    """The traced validation pass: ``evaluate(x, y)`` returns ``[loss, *metrics]`` averaged over
    all samples in batches of ``EVAL_BATCH`` (loss 0.0 when ``p`` has no loss function)."""
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
            xb = x[start : start + EVAL_BATCH]
            yb = y[start : start + EVAL_BATCH]
            y_pred = model(xb, training=False)
            loss = mean_loss(p, yb, y_pred) if p.loss_fn is not None else tf.constant(0.0)
            values = [loss] + [
                tf.reduce_mean(tf.cast(fn(yb, y_pred), tf.float32)) for _, fn in p.metric_fns
            ]
            return start + EVAL_BATCH, total + tf.stack(values) * tf.cast(tf.shape(xb)[0], tf.float32)

        _, total = tf.while_loop(lambda s, t: s < n, body, (tf.constant(0), tf.zeros([width])))
        means = total / tf.cast(n, tf.float32)
        return tf.concat([means[:1] + regularization(model), means[1:]], 0)

    return evaluate
