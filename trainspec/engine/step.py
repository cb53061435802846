"""The training step inside the traced loop: forward, loss, gradients, update.

In: a ``Prepared``.  Out: ``make_step(p)``, a function of one batch ``(xb, yb)`` returning the
loss, the predictions, the probed activations and one gradient per trainable variable (zeros
where a variable got none), for the probes to read.  A recipe's custom ``train_step`` runs in
place of the built-in one, with an optimizer wrapper that keeps the gradients it applies.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable
from typing import Any

import tensorflow as tf

from trainspec.engine import probes
from trainspec.engine.prepared import Prepared
from trainspec.engine.structure import feed
from trainspec.exceptions import RecipeError


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


def mean_loss(p: Prepared, y_true: Any, y_pred: Any) -> Any:
    """The batch mean of ``p``'s loss, as float32."""
    return tf.reduce_mean(tf.cast(p.loss_fn(y_true, y_pred), tf.float32))


def regularization(model: Any) -> Any:
    """The sum of the model's added losses (weight regularizers...), 0.0 when it has none."""
    losses = model.losses
    return tf.add_n([tf.cast(v, tf.float32) for v in losses]) if losses else tf.constant(0.0)


def make_forward(p: Prepared) -> Callable[[Any, bool], tuple[list, Any]]:
    """``forward(xb, training) -> (activations, y_pred)``: the probe model when there is one
    (the probed activations come from the same forward pass), else the model alone."""
    model, probe_model, n_acts = p.model, p.probe_model, len(p.acts)

    def forward(xb: Any, training: bool) -> tuple[list, Any]:
        if probe_model is None:
            return [], model(feed(model, xb), training=training)
        # several inputs: a list in model.inputs order, which the probe model is built on
        outs = probe_model(list(xb) if isinstance(xb, tuple) else xb, training=training)
        outs = list(outs) if isinstance(outs, (list, tuple)) else [outs]
        # the probed activations, then the model's output(s)
        return outs[:n_acts], outs[n_acts] if len(outs) == n_acts + 1 else outs[n_acts:]

    return forward


def make_step(p: Prepared) -> Callable[[Any, Any], tuple[Any, Any, list, list]]:
    """``step(xb, yb) -> (loss, y_pred, activations, grads)``, applying one update.

    Example:
        >>> loss, y_pred, acts, grads = make_step(p)(xb, yb)   # doctest: +SKIP
    """
    model, optimizer = p.model, p.optimizer
    variables = list(model.trainable_variables)
    forward = make_forward(p)
    custom = p.recipe.train_step
    if custom is not None and inspect.isfunction(custom):
        custom = tf.autograph.to_graph(custom)  # the user's step may branch on tensors

    def step(xb: Any, yb: Any) -> tuple[Any, Any, list, list]:
        if custom is None:
            with tf.GradientTape() as tape:
                acts, y_pred = forward(xb, True)
                loss = mean_loss(p, yb, y_pred)
                if model.losses:  # no "+ 0.0" op in the step when there is nothing to add
                    loss = loss + regularization(model)
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
        probes.note_no_gradient(model, grads)  # at trace time: which variables the loss misses
        grads = [tf.zeros_like(v) if g is None else g for g, v in zip(grads, variables, strict=False)]
        return loss, y_pred, acts, grads

    return step
