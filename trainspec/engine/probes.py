"""What trainspec measures inside the training graph, and on which layers.

Imported by the engine only (it imports TensorFlow).  Every probe is a handful of reductions
on tensors the training step computes anyway, so probing costs little next to the step itself.
"""

from __future__ import annotations

import math
import weakref
from dataclasses import dataclass
from typing import Any

import keras
import numpy as np
import tensorflow as tf

from trainspec.constants import SIGMOID_SATURATION_Z, TANH_SATURATION_Z, ActivationKind
from trainspec.run import UnprobedLayer

_KIND_BY_NAME = {
    "relu": ActivationKind.RELU,
    "relu6": ActivationKind.RELU,
    "leaky_relu": ActivationKind.LEAKY,
    "elu": ActivationKind.LEAKY,
    "selu": ActivationKind.LEAKY,
    "gelu": ActivationKind.LEAKY,
    "silu": ActivationKind.LEAKY,
    "swish": ActivationKind.LEAKY,
    "celu": ActivationKind.LEAKY,
    "mish": ActivationKind.LEAKY,
    "hard_silu": ActivationKind.LEAKY,
    "hard_swish": ActivationKind.LEAKY,
    "softplus": ActivationKind.LEAKY,
    "sigmoid": ActivationKind.SIGMOID,
    "hard_sigmoid": ActivationKind.SIGMOID,
    "tanh": ActivationKind.TANH,
    "hard_tanh": ActivationKind.TANH,
    "softmax": ActivationKind.SOFTMAX,
    "log_softmax": ActivationKind.SOFTMAX,
}

_SIGMOID_LO = 1.0 / (1.0 + math.exp(SIGMOID_SATURATION_Z))
_TANH_HI = math.tanh(TANH_SATURATION_Z)


def activation_name(fn: Any) -> str:
    """The registered name of a Keras activation function (``"relu"``, ``"sigmoid"``...)."""
    name = getattr(fn, "__name__", None) or type(fn).__name__
    return str(name).lower()


def kind_of(name: str) -> ActivationKind:
    """The activation family of a Keras activation name."""
    return _KIND_BY_NAME.get(name, ActivationKind.OTHER)


@dataclass(frozen=True)
class ActivationProbe:
    """A layer whose output is the result of a non-linear activation."""

    layer: Any
    index: int
    name: str
    kind: ActivationKind
    activation: str


@dataclass(frozen=True)
class LayerProbe:
    """A leaf layer with trainable variables; ``var_idx`` index ``model.trainable_variables``."""

    layer: Any
    index: int
    name: str
    var_idx: tuple[int, ...]
    n_params: int


def leaf_layers(model: Any) -> list[Any]:
    """Layers of ``model`` in order, descending into nested models."""
    out: list[Any] = []
    for layer in model.layers:
        if isinstance(layer, keras.Model):
            out.extend(leaf_layers(layer))
        else:
            out.append(layer)
    return out


def trainable_layers(model: Any) -> list[LayerProbe]:
    """Leaf layers that own trainable variables, with their variables' positions; trainable
    variables no leaf layer owns (made by a subclassed model's own ``add_weight``) are probed
    together under the model's name, after the layers."""
    position = {id(v): i for i, v in enumerate(model.trainable_variables)}
    probes = []
    claimed: set[int] = set()
    leaves = leaf_layers(model)
    for index, layer in enumerate(leaves):
        idx = tuple(position[id(v)] for v in layer.trainable_variables if id(v) in position)
        claimed.update(idx)
        if idx:
            n_params = int(sum(int(math.prod(v.shape)) for v in layer.trainable_variables))
            probes.append(LayerProbe(layer, index, layer.name, idx, n_params))
    own = tuple(i for i in range(len(position)) if i not in claimed)
    if own:
        variables = model.trainable_variables
        n_params = int(sum(int(math.prod(variables[i].shape)) for i in own))
        probes.append(LayerProbe(model, len(leaves), model.name, own, n_params))
    return probes


def layer_activation(layer: Any) -> str | None:
    """The activation a layer applies to its output, or None when it applies none.

    Example:
        >>> layer_activation(keras.layers.Dense(4, activation="relu"))  # doctest: +SKIP
        'relu'
    """
    if isinstance(layer, keras.layers.ReLU):
        slope = float(getattr(layer, "negative_slope", 0.0) or 0.0)
        return "relu" if slope == 0.0 else "leaky_relu"
    if isinstance(layer, keras.layers.LeakyReLU):
        return "leaky_relu"
    if isinstance(layer, keras.layers.PReLU):
        return "leaky_relu"
    if isinstance(layer, keras.layers.ELU):
        return "elu"
    if isinstance(layer, keras.layers.Softmax):
        return "softmax"
    fn = getattr(layer, "activation", None)
    if fn is None or not callable(fn):
        return None
    name = activation_name(fn)
    return None if name == "linear" else name


def activation_layers(model: Any) -> list[ActivationProbe]:
    """Top-level layers of a functional/Sequential model whose output is an activation."""
    probes = []
    for index, layer in enumerate(model.layers):
        name = layer_activation(layer)
        if name is not None:
            probes.append(ActivationProbe(layer, index, layer.name, kind_of(name), name))
    return probes


def output_activation(model: Any) -> str | None:
    """The activation applied by the model's last layer (``"softmax"``, ``"sigmoid"``...)."""
    layers = leaf_layers(model)
    for layer in reversed(layers):
        name = layer_activation(layer)
        if name is not None:
            return name
        if layer.trainable_variables:
            return "linear"
    return None


def activation_stats(a: tf.Tensor, kind: ActivationKind) -> tf.Tensor:
    """``[dead, saturated, mean, std]`` of one activation tensor on a batch.

    Units are the last axis (Dense units, conv channels).  A ReLU unit is dead on the batch
    when it is never positive for any sample or position: its gradient is then zero everywhere.
    The loop takes every activation's statistics at once (:func:`fused_activation_stats`); this
    is the same statistic for one tensor, kept for activations that cannot be fused.
    """
    a = tf.cast(a, tf.float32)
    # one reduction for the mean where tf.math.reduce_std took its own beside tf.reduce_mean
    # (the same values), the axes one constant for both
    every_axis = tf.constant(list(range(a.shape.rank)), tf.int32)
    centre = tf.reduce_mean(a, axis=every_axis, keepdims=True)
    mean = tf.reshape(centre, [])
    std = tf.sqrt(tf.reduce_mean(tf.square(a - centre), axis=every_axis))
    zero = tf.constant(0.0)
    dead = zero
    saturated = zero
    if kind is ActivationKind.RELU:
        axes = list(range(a.shape.rank - 1))
        active = tf.reduce_any(a > 0.0, axis=axes) if axes else a > 0.0
        dead = 1.0 - tf.reduce_mean(tf.cast(active, tf.float32))
    elif kind is ActivationKind.SIGMOID:
        flat = tf.logical_or(a < _SIGMOID_LO, a > 1.0 - _SIGMOID_LO)
        saturated = tf.reduce_mean(tf.cast(flat, tf.float32))
    elif kind is ActivationKind.TANH:
        saturated = tf.reduce_mean(tf.cast(tf.abs(a) > _TANH_HI, tf.float32))
    return tf.stack([dead, saturated, mean, std])


def _saturation_bounds(kind: ActivationKind) -> tuple[float, float]:
    """``(lo, hi)``: a value of this activation is saturated when below ``lo`` or above ``hi``
    (the comparisons of :func:`activation_stats`: ``|a| > h`` is ``a < -h or a > h`` exactly);
    never for activations without a flat region."""
    if kind is ActivationKind.SIGMOID:
        return _SIGMOID_LO, 1.0 - _SIGMOID_LO
    if kind is ActivationKind.TANH:
        return -_TANH_HI, _TANH_HI
    return -math.inf, math.inf


def _fusable(a: tf.Tensor) -> bool:
    """A batch axis first and every other dimension known at trace time."""
    return a.shape.rank is not None and a.shape.rank >= 2 and a.shape[1:].is_fully_defined()


def fused_activation_stats(acts: list[tf.Tensor], kinds: list[ActivationKind]) -> tf.Tensor:
    """``[dead, saturated, mean, std]`` of every activation tensor of one forward pass,
    ``(len(acts), 4)``, the values of :func:`activation_stats` taken tensor by tensor.

    Each tensor becomes columns of one ``(batch, columns)`` matrix (a conv map's positions and
    channels flattened); every statistic is one reduction over the batch axis and one segment
    reduction over the columns of each tensor: the mean of the column means is the tensor's
    mean (every column has the batch's rows), the std is taken around it in a second pass, a
    unit (the last axis) is dead when no row of any of its columns is positive, and the
    saturated share compares each column with its activation's bounds.  The graph grows by
    about one op per tensor (a reshape when it is not already 2-D) instead of about eighteen.
    Tensors with unknown non-batch dimensions are taken one by one.

    Example:
        >>> fused_activation_stats([tf.ones([8, 3]), -tf.ones([8, 2])],
        ...                        [ActivationKind.RELU, ActivationKind.RELU])  # doctest: +SKIP
        <tf.Tensor: shape=(2, 4), numpy=array([[0., 0., 1., 0.], [1., 0., -1., 0.]], ...)>
    """
    if len(acts) != len(kinds):
        raise ValueError(f"{len(acts)} activation tensors but {len(kinds)} kinds")
    if not acts:
        return tf.zeros([0, 4])
    fused = [i for i, a in enumerate(acts) if _fusable(a)]
    alone = [i for i in range(len(acts)) if i not in fused]
    parts = []
    if fused:
        parts.append(_fused_stats([acts[i] for i in fused], [kinds[i] for i in fused]))
    if alone:
        parts.append(tf.stack([activation_stats(acts[i], kinds[i]) for i in alone]))
    if len(parts) == 1:
        return parts[0]
    order = np.argsort(np.array(fused + alone, dtype=np.int32)).astype(np.int32)
    return tf.gather(tf.concat(parts, 0), tf.constant(order))


def _fused_stats(acts: list[tf.Tensor], kinds: list[ActivationKind]) -> tf.Tensor:
    widths = [int(np.prod(a.shape[1:])) for a in acts]
    same_dtype = len({a.dtype for a in acts}) == 1
    cols = []
    for a, width in zip(acts, widths, strict=True):
        if not same_dtype:
            a = tf.cast(a, tf.float32)
        cols.append(a if a.shape.rank == 2 else tf.reshape(a, [-1, width]))
    m = tf.concat(cols, axis=1) if len(cols) > 1 else cols[0]
    m = tf.cast(m, tf.float32)  # a no-op on float32
    batch_axis = tf.constant(0, tf.int32)
    # which activation each column belongs to: sorted, so the segment ops need no count
    column_of = tf.constant(np.repeat(np.arange(len(acts), dtype=np.int32), widths))
    mean = tf.math.segment_mean(tf.reduce_mean(m, axis=batch_axis), column_of)
    centred = m - tf.gather(mean, column_of)
    std = tf.sqrt(tf.math.segment_mean(tf.reduce_mean(tf.square(centred), axis=batch_axis),
                                       column_of))
    zeros = tf.zeros([len(acts)])
    saturated = zeros
    if any(k in (ActivationKind.SIGMOID, ActivationKind.TANH) for k in kinds):
        bounds = [_saturation_bounds(k) for k in kinds]
        lo = tf.constant(np.repeat(np.array([b[0] for b in bounds], np.float32), widths))
        hi = tf.constant(np.repeat(np.array([b[1] for b in bounds], np.float32), widths))
        flat = tf.cast(tf.logical_or(m < lo, m > hi), tf.float32)
        saturated = tf.math.segment_mean(tf.reduce_mean(flat, axis=batch_axis), column_of)
    dead = zeros
    if ActivationKind.RELU in kinds:
        active = tf.cast(tf.reduce_any(m > 0.0, axis=batch_axis), tf.float32)  # per column
        units = [int(a.shape[-1]) for a in acts]
        unit_of = np.repeat(np.arange(len(acts), dtype=np.int32), units)
        if any(a.shape.rank > 2 for a in acts):
            # a conv map's unit is its channel: active when any position of it is
            starts = np.cumsum([0, *units[:-1]])
            channel = np.concatenate([s + np.arange(w, dtype=np.int64) % u
                                      for s, w, u in zip(starts, widths, units, strict=True)])
            active = tf.math.unsorted_segment_max(active, tf.constant(channel.astype(np.int32)),
                                                  num_segments=sum(units))
        alive = tf.math.segment_mean(active, tf.constant(unit_of))
        relu = np.array([k is ActivationKind.RELU for k in kinds], np.float32)
        dead = 1.0 - alive if relu.all() else (1.0 - alive) * tf.constant(relu)
    return tf.stack([dead, saturated, mean, std], axis=1)


def group_norm(tensors: list[tf.Tensor]) -> tf.Tensor:
    """L2 norm of several tensors taken together."""
    return tf.sqrt(tf.add_n([tf.reduce_sum(tf.square(tf.cast(t, tf.float32))) for t in tensors]))


def histogram(arrays: list[np.ndarray], bins: int) -> np.ndarray:
    """A ``(bins, 3)`` float32 array of (left, right, count) over the values of ``arrays``, the
    layout TensorBoard's histogram plugin stores.

    In numpy, between loop calls: the counts of ``tf.histogram_fixed_width`` over ``[min, max]``
    and the edges of an eager ``tf.linspace``, bit for bit (their float64 and float32 arithmetic
    step for step, checked in ``tests/engine/test_histograms.py``), for a quarter of what
    calling a traced histogram per layer cost.

    Example:
        >>> histogram([np.array([0.0, 1.0, 1.0])], 2)[:, 2]
        array([1., 2.], dtype=float32)
    """
    values = np.concatenate([np.ravel(np.asarray(a, np.float32)) for a in arrays])
    if not values.size:  # a layer with no units: no values, an empty histogram
        return np.zeros((bins, 3), np.float32)
    lo, hi = values.min(), values.max()
    if not hi > lo:  # one value: a bin of width max(|lo| 1e-6, 1e-6) above it
        hi = lo + np.maximum(np.abs(lo) * np.float32(1e-6), np.float32(1e-6))
    # histogram_op.cc, in float64: step = hi / bins - lo / bins (no overflow), and the bin is
    # min((clip(v, lo, hi) - lo) / step, bins - 1)
    lo64, hi64 = np.float64(lo), np.float64(hi)
    step = hi64 / bins - lo64 / bins
    index = np.minimum((np.clip(values, lo, hi).astype(np.float64) - lo64) / step, bins - 1)
    counts = np.bincount(index.astype(np.int32), minlength=bins).astype(np.float32)
    # tf.linspace: start + i * ((stop - start) / (num - 1)) in float32, the last edge is stop
    delta = (hi - lo) / np.float32(bins)
    edges = np.concatenate([[lo], lo + np.arange(1, bins, dtype=np.float32) * delta, [hi]])
    return np.stack([edges[:-1], edges[1:], counts], axis=1).astype(np.float32)


# -- frozen layers, variables without a gradient, layers the activation probes cannot see -------
#
# A frozen layer's weights are not read at every step: nothing in the training step writes them
# (Keras 3 runs a frozen BatchNormalization in inference mode, so even its moving statistics
# stay), so their norms are taken before the first step and after the last, and the two
# readings show whether they moved (a layer updating its own state, or a callback, would).
# The moving statistics of a *trainable* BatchNormalization are non-trainable variables that do
# change every step; they are statistics of the activations, not weights, and stay unprobed.


@dataclass(frozen=True)
class FrozenProbe:
    """A leaf layer with weights but no trainable variable (``trainable=False``, itself or a
    model it sits in); ``var_idx`` index ``model.weights``.  ``at_initializer``: its weights at
    the start looked like its initializers' fresh draw (True), like loaded or pretrained values
    (False), or could not be told (None); see :mod:`trainspec.freshness`."""

    index: int
    name: str
    class_name: str
    var_idx: tuple[int, ...]
    n_params: int
    at_initializer: bool | None


def frozen_layers(model: Any) -> list[FrozenProbe]:
    """The leaf layers of ``model`` whose weights do not train.

    Example:
        >>> [f.name for f in frozen_layers(model)]            # doctest: +SKIP
        ['features_1', 'features_2']
    """
    from trainspec.freshness import at_initializer

    position = {id(v): i for i, v in enumerate(model.weights)}
    out = []
    for index, layer in enumerate(leaf_layers(model)):
        if layer.trainable or layer.trainable_variables or not layer.weights:
            continue  # trainable, or non-trainable by design (Normalization's statistics)
        idx = tuple(position[id(v)] for v in layer.weights if id(v) in position)
        if not idx:
            continue
        n_params = int(sum(int(math.prod(v.shape)) for v in layer.weights))
        out.append(FrozenProbe(index, layer.name, type(layer).__name__, idx, n_params,
                               at_initializer(layer)))
    return out


def frozen_norms(model: Any, frozen: list[FrozenProbe]) -> list[float]:
    """The L2 norm of each frozen layer's weights in ``model`` now (read eagerly, in float64)."""
    weights = model.weights
    norms = []
    for fp in frozen:
        total = 0.0
        for j in fp.var_idx:
            value = np.asarray(weights[j].numpy(), dtype=np.float64)
            total += float(np.sum(value * value))
        norms.append(math.sqrt(total))
    return norms


def frozen_moved(model: Any, frozen: list[FrozenProbe], before: list[np.ndarray]) -> list[float]:
    """``||W_after - W_before|| / ||W_before||`` of each frozen layer over the whole run."""
    weights = model.weights
    out = []
    at = 0
    for fp in frozen:
        diff = base = 0.0
        for j in fp.var_idx:
            now = np.asarray(weights[j].numpy(), dtype=np.float64)
            old = np.asarray(before[at], dtype=np.float64)
            at += 1
            diff += float(np.sum((now - old) ** 2))
            base += float(np.sum(old * old))
        out.append(math.sqrt(diff) / max(math.sqrt(base), 1e-12))
    return out


def frozen_values(model: Any, frozen: list[FrozenProbe]) -> list[np.ndarray]:
    """Copies of the frozen layers' weights, in ``frozen``'s order (to compare after the run)."""
    weights = model.weights
    return [np.array(weights[j].numpy()) for fp in frozen for j in fp.var_idx]


#: Per traced model, the positions in ``model.trainable_variables`` whose gradient was None when
#: the training step was traced (cut off from the loss).  Read by the run that trained ``model``:
#: a run sharing a traced graph trains the model that graph was traced on.
_NO_GRADIENT: weakref.WeakKeyDictionary[Any, tuple[int, ...]] = weakref.WeakKeyDictionary()


def note_no_gradient(model: Any, grads: list) -> None:
    """Remember which of ``model``'s trainable variables got no gradient (``None``) in the step
    being traced."""
    _NO_GRADIENT[model] = tuple(i for i, g in enumerate(grads) if g is None)


def no_gradient(model: Any) -> tuple[int, ...]:
    """Positions in ``model.trainable_variables`` that got no gradient when its step was traced."""
    return _NO_GRADIENT.get(model, ())


def variable_name(variable: Any) -> str:
    """A variable's path in its model (``"dense_1/kernel"``), or its name."""
    return str(getattr(variable, "path", None) or getattr(variable, "name", "variable"))


def _is_keras(obj: Any) -> bool:
    return type(obj).__module__.split(".")[0] == "keras"


def unprobed_layers(model: Any, acts: list[ActivationProbe], probe_view: Any) -> list[UnprobedLayer]:
    """The layers of ``model`` whose activations are not probed and could hold some: leaf layers
    with an activation that is not among ``acts`` (inside a nested model, or every layer of a
    model without a functional view ``probe_view``), ``Lambda`` and custom layers, and a
    subclassed model's own ``call``.

    Example:
        >>> [u.name for u in unprobed_layers(subclassed, [], None)]   # doctest: +SKIP
        ['my_net', 'dense', 'dense_1']
    """
    probed = {id(a.layer) for a in acts} if probe_view is not None else set()
    out: list[UnprobedLayer] = []
    if probe_view is None:
        out.append(UnprobedLayer(model.name, None, f"a subclassed model ({type(model).__name__}): "
                                 "activations applied in its call() cannot be probed"))
    where = "in a subclassed model" if probe_view is None else "inside a nested model"

    def visit(layers: list, nested: bool) -> None:
        for layer in layers:
            if isinstance(layer, keras.Model):
                visit(list(layer.layers), True)
                continue
            if id(layer) in probed:
                continue
            if isinstance(layer, keras.layers.Lambda):
                out.append(UnprobedLayer(layer.name, None, "a Lambda layer: the probes cannot "
                                         "see what its function computes"))
                continue
            name = layer_activation(layer)
            if name is not None:
                if nested or probe_view is None:
                    out.append(UnprobedLayer(layer.name, kind_of(name), f"{name} {where}"))
            elif not _is_keras(layer):
                out.append(UnprobedLayer(layer.name, None, f"a custom layer "
                                         f"({type(layer).__name__}): activations applied inside "
                                         "its call() cannot be probed"))

    visit(list(model.layers), False)
    return out


def layer_norms(quantities: list[list[tf.Tensor]], layers: list[tuple[int, ...]]) -> tf.Tensor:
    """Per-layer L2 norms of several quantities in one reduction, ``(len(quantities),
    len(layers))``: ``quantities`` are lists of tensors (gradients, weights, updates...) in the
    order of ``model.trainable_variables`` and ``layers`` the positions of each layer's tensors
    (``LayerProbe.var_idx``).

    One ``L2Loss`` per tensor (a single op, where a square and a sum took three with the sum's
    axes), then one segment sum over all of them: the graph grows by one op per tensor instead
    of three per tensor and two per layer per quantity.

    Example:
        >>> layer_norms([[tf.ones([3, 4]), tf.ones([4])]], [(0, 1)]).numpy()  # doctest: +SKIP
        array([[4.]], dtype=float32)
    """
    halves = [tf.nn.l2_loss(tf.cast(tensors[j], tf.float32))
              for tensors in quantities for var_idx in layers for j in var_idx]
    segments = [q * len(layers) + i
                for q in range(len(quantities)) for i, var_idx in enumerate(layers) for _ in var_idx]
    sums = tf.math.segment_sum(tf.stack(halves), tf.constant(segments, tf.int32))
    return tf.reshape(tf.sqrt(sums * 2.0), [len(quantities), len(layers)])
