"""trainspec.engine.probes.fused_activation_stats: every activation layer's dead and saturated
fractions, mean and std in one fused computation, equal to the same statistics taken tensor by
tensor in numpy."""

from __future__ import annotations

import math

import numpy as np
import pytest
import tensorflow as tf

from trainspec.constants import SIGMOID_SATURATION_Z, TANH_SATURATION_Z, ActivationKind
from trainspec.engine import probes


def numpy_stats(a: np.ndarray, kind: ActivationKind) -> list[float]:
    """[dead, saturated, mean, std] of one activation, in float64: a unit (last axis) is dead
    when no sample or position of it is positive."""
    a = a.astype(np.float64)
    dead = saturated = 0.0
    if kind is ActivationKind.RELU:
        dead = 1.0 - float(np.mean(np.any(a > 0, axis=tuple(range(a.ndim - 1)))))
    elif kind is ActivationKind.SIGMOID:
        lo = 1.0 / (1.0 + math.exp(SIGMOID_SATURATION_Z))
        saturated = float(np.mean((a < np.float32(lo)) | (a > np.float32(1.0 - lo))))
    elif kind is ActivationKind.TANH:
        saturated = float(np.mean(np.abs(a) > np.float32(math.tanh(TANH_SATURATION_Z))))
    return [dead, saturated, float(a.mean()), float(a.std())]


def layers(rng: np.random.Generator, batch: int) -> list[tuple[np.ndarray, ActivationKind]]:
    """Dense and conv-shaped activations of every kind, some units dead, some saturated."""
    relu = np.maximum(rng.normal(size=(batch, 7)) - 1.2, 0.0)
    relu[:, 2] = 0.0  # a unit dead on the whole batch
    conv = np.maximum(rng.normal(size=(batch, 4, 3, 5)), 0.0)
    conv[..., 1] = 0.0  # a channel dead at every position
    return [
        (relu, ActivationKind.RELU),
        (1.0 / (1.0 + np.exp(-6.0 * rng.normal(size=(batch, 6)))), ActivationKind.SIGMOID),
        (np.tanh(4.0 * rng.normal(size=(batch, 2, 3, 4))), ActivationKind.TANH),
        (conv, ActivationKind.RELU),
        (rng.normal(size=(batch, 9)), ActivationKind.LEAKY),
        (np.abs(rng.normal(size=(batch, 10))), ActivationKind.SOFTMAX),
        (rng.normal(size=(batch, 3, 4)), ActivationKind.OTHER),
    ]


@pytest.mark.parametrize("batch", [1, 32])
def test_fused_statistics_equal_numpys_for_every_kind_and_shape(batch):
    acts = layers(np.random.default_rng(batch), batch)
    fused = probes.fused_activation_stats([tf.constant(a, tf.float32) for a, _ in acts],
                                          [k for _, k in acts]).numpy()
    expected = [numpy_stats(a.astype(np.float32), k) for a, k in acts]
    assert fused.shape == (len(acts), 4) and fused.dtype == np.float32
    np.testing.assert_allclose(fused, expected, rtol=1e-5, atol=1e-6)
    assert fused[0, 0] >= 1 / 7 - 1e-6 and fused[3, 0] == pytest.approx(1 / 5)  # the dead units
    assert fused[1, 1] > 0 and fused[2, 1] > 0  # saturated


def test_unknown_dimensions_and_half_precision_give_the_same_statistics():
    acts = layers(np.random.default_rng(7), 16)
    kinds = [k for _, k in acts]
    expected = [numpy_stats(a.astype(np.float16), k) for a, k in acts]
    # a sequence of unknown length cannot be laid out as columns: taken on its own, in order
    specs = [tf.TensorSpec([None] * a.ndim if i == 2 else [None, *a.shape[1:]], tf.float16)
             for i, (a, _) in enumerate(acts)]
    stats = tf.function(lambda *t: probes.fused_activation_stats(list(t), kinds),
                        input_signature=specs, autograph=False)
    fused = stats(*[tf.constant(a, tf.float16) for a, _ in acts]).numpy()
    np.testing.assert_allclose(fused, expected, rtol=1e-3, atol=1e-3)
    assert probes.fused_activation_stats([], []).shape == (0, 4)
    with pytest.raises(ValueError, match="2 activation tensors but 1 kinds"):
        probes.fused_activation_stats([tf.zeros([2, 2])] * 2, kinds[:1])
