"""Stage 2, the traced loop: every step of a chunk in one ``tf.function``, every probe recorded.

In: a ``Prepared``.  Out: ``build_loop(p)``, a traced function of ``(x, y, idx)`` (the
training arrays and one row of sample indices per step) returning one array per probe with one
row per step it ran: ``loss``, ``metrics``, ``grad``, ``weight``, ``ratio`` (per layer), ``act``
(per activation: dead, saturated, mean, std), and ``grads``, the gradients of its last step.
The loop stops after the first step with a non-finite value (that row is recorded, for
``assemble`` to name the culprit).  ``histograms`` takes the weight and gradient histograms
eagerly after a call that ended on a histogram step (a handful per run: tracing them into every
step's graph doubled its size).  ``build_eval(p)`` is the validation pass, one ``tf.function``.
Both trace once, on their first call (``Traced``).

The steps loop over ``tf.while_loop``; each step writes every value it records as one row of
one ``TensorArray`` (the values that must be finite first: the loss, gradient and weight
norms, activation statistics; then the metrics and update ratios; the three per-layer norms
are one fused reduction, the activation statistics another), cut into the arrays above after
the loop.  Python only regains
control between chunks (for validation, Keras callbacks and progress).  XLA stays off: with op
determinism it is far slower on CPU.
"""

from __future__ import annotations

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

#: Keys of the per-step arrays the loop returns, in the order of the parts of its row.
KEYS = ("loss", "grad", "weight", "act", "metrics", "ratio")

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


def read(variables: list) -> list:
    """The variables' values read at this point of the program (one ``ReadVariableOp`` each:
    automatic control dependencies order it against the update's writes)."""
    return [tf.convert_to_tensor(v) for v in variables]


def weight_norms(p: Prepared, values: list) -> Any:
    """Per-layer L2 norms of the trainable variables' ``values``, ``(n_layers,)``."""
    return probes.layer_norms([values], [lp.var_idx for lp in p.layers])[0]


def record_probes(p: Prepared, yb: Any, y_pred: Any, acts: list, grads: list, before: list,
                  after: list) -> dict[str, Any]:
    """One step's probe values: metric means, per-layer gradient and weight norms, the norm of
    the update, activation statistics.  ``before``/``after`` are the trainable variables read
    around the update; the weight norms before it are the previous step's ``weight`` (carried
    by the loop, not computed twice).  The three per-layer norms are one fused reduction
    (:func:`probes.layer_norms`)."""
    # the name scopes let benchmarks/op_profile.py count the ops of each probe
    with tf.name_scope("probe_metrics"):
        metrics = [tf.reduce_mean(tf.cast(fn(yb, y_pred), tf.float32)) for _, fn in p.metric_fns]
    with tf.name_scope("probe_norms"):
        moved = [a - b for a, b in zip(after, before, strict=True)]
        gvec, wvec, mvec = tf.unstack(
            probes.layer_norms([grads, after, moved], [lp.var_idx for lp in p.layers])
        )
    with tf.name_scope("probe_activations"):
        # one fused computation for every activation layer
        act_stats = probes.fused_activation_stats(acts, [ap.kind for ap in p.acts])
    return {
        "metrics": tf.stack(metrics) if metrics else tf.zeros([0]),
        "grad": gvec,
        "weight": wvec,
        "moved": mvec,
        "act": act_stats,
    }


def checked(loss: Any, row: dict[str, Any]) -> Any:
    """The values of the step that must be finite, in one vector: the loss, every gradient and
    weight norm and every activation statistic (the loop stops after the first step where one
    is not).  They start the step's row, so the row is this vector and the rest."""
    return tf.concat(
        [tf.reshape(loss, [1]), row["grad"], row["weight"], tf.reshape(row["act"], [-1])], 0
    )


def row_widths(p: Prepared) -> list[int]:
    """Widths of the per-step row's parts, in the order of ``KEYS``: the loss, two per-layer
    norms, four statistics per activation (the values that must be finite), the metrics, the
    update ratios."""
    n_layers = len(p.layers)
    return [1, n_layers, n_layers, 4 * len(p.acts), len(p.metric_fns), n_layers]


def split_rows(p: Prepared, rows: Any) -> dict[str, Any]:
    """The loop's stacked rows ``(steps, width)`` cut into one array per key of ``KEYS``."""
    loss, grad, weight, act, metrics, ratio = tf.split(rows, row_widths(p), axis=1)
    return {"loss": tf.reshape(loss, [-1]), "metrics": metrics, "grad": grad, "weight": weight,
            "ratio": ratio, "act": tf.reshape(act, [tf.shape(rows)[0], len(p.acts), 4])}


class Traced:
    """A ``tf.function`` with an ``input_signature``, called through its one concrete function.

    It traces exactly once (on the first call, inside the caller's error handling), and later
    calls skip the argument matching of ``tf.function``.  Every recipe builds its own loop and
    evaluation, so TensorFlow's frequent-retracing detector, which counts calls to functions of
    the same Python code, warned "N out of the last N calls ... triggered tf.function
    retracing" across recipes although no function ever traced twice.
    """

    def __init__(self, function: Any):
        self.function = function
        self._concrete: Any = None

    def get_concrete_function(self, *args: Any) -> Any:
        """The one concrete function (``args``, if given, must match the signature)."""
        if self._concrete is None:
            self._concrete = self.function.get_concrete_function(*args)
        return self._concrete

    def __call__(self, *args: Any) -> Any:
        return self.get_concrete_function()(*args)


def histograms(p: Prepared, variables: list, grads: list) -> tuple[np.ndarray, np.ndarray]:
    """Per-layer weight and gradient histograms, ``(n_layers, HISTOGRAM_BINS, 3)`` each, of the
    trainable ``variables`` and one step's ``grads`` (numpy: a handful per run, between loop
    calls, where one traced histogram per layer cost ~1.3 ms of eager calls).

    Example:
        >>> w, g = histograms(p, p.model.trainable_variables, grads)   # doctest: +SKIP
        >>> w.shape
        (3, 30, 3)
    """

    def per_layer(tensors: list) -> np.ndarray:
        arrays = [np.asarray(t) for t in tensors]
        return np.stack([probes.histogram(_layer_vars(arrays, lp), HISTOGRAM_BINS)
                         for lp in p.layers])

    return per_layer(list(variables)), per_layer(list(grads))


def _make_body(p: Prepared) -> Callable[..., tuple]:
    """The ``tf.while_loop`` body: gather a batch, step, record the probes in one row."""
    variables = list(p.model.trainable_variables)
    step = make_step(p)

    def body(x: Any, y: Any, idx: Any, i: Any, ok: Any, base: Any, last: tuple, rows: Any):
        xb = tf.nest.map_structure(lambda a: tf.gather(a, idx[i]), x)  # several inputs: each
        yb = tf.nest.map_structure(lambda a: tf.gather(a, idx[i]), y)
        with tf.name_scope("probe_reads"):
            before = read(variables)
        loss, y_pred, acts, grads = step(xb, yb)
        with tf.name_scope("probe_reads"):
            after = read(variables)  # read after the update (program order)
        row = record_probes(p, yb, y_pred, acts, grads, before, after)
        with tf.name_scope("probe_row"):
            values = checked(loss, row)
            finite = tf.reduce_all(tf.math.is_finite(values))
            # every per-step value in one row of one TensorArray, the checked values first
            rows = rows.write(i, tf.concat(
                [values, row["metrics"], row["moved"] / tf.maximum(base, 1e-12)], 0))
        # dense, in the variables' dtype, so every step's gradients fit the loop variable
        grads = tuple(
            tf.cast(tf.convert_to_tensor(g), v.dtype) for g, v in zip(grads, variables, strict=True)
        )
        return i + 1, finite, row["weight"], grads, rows

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
    x, y = (tf.nest.map_structure(_spec, a) for a in p.train)
    variables = list(p.model.trainable_variables)
    body = _make_body(p)
    width = sum(row_widths(p))

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
        n = tf.shape(idx)[0]
        rows = tf.TensorArray(tf.float32, size=n, element_shape=[width])
        no_grads = tuple(tf.zeros_like(v) for v in variables)
        base = weight_norms(p, read(variables))
        i, _, _, last, rows = tf.while_loop(
            lambda i, ok, base, last, rows: tf.logical_and(i < n, ok),
            lambda i, ok, base, last, rows: body(x, y, idx, i, ok, base, last, rows),
            (tf.constant(0), tf.constant(True), base, no_grads, rows),
        )
        out = split_rows(p, rows.gather(tf.range(i)))
        out["grads"] = list(last)
        return out

    return Traced(loop)


def build_eval(p: Prepared, model: Any = None) -> Callable[..., Any]:
    """The traced validation pass: ``evaluate(x, y)`` returns ``[loss, *metrics]`` averaged over
    all samples in batches of ``EVAL_BATCH`` (loss 0.0 when ``p`` has no loss function).
    ``model`` (by default ``p.model``) is the model it reads: a shared graph's model."""
    model = p.model if model is None else model
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

    return Traced(evaluate)
