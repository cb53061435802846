"""The weight and gradient histograms: numpy between loop calls, the same bits as TensorFlow's
own ops run eagerly (``tf.histogram_fixed_width``'s counts, ``tf.linspace``'s edges), and the
counts of every value."""

from __future__ import annotations

import numpy as np
import pytest
import tensorflow as tf

from trainspec.constants import HISTOGRAM_BINS
from trainspec.engine.probes import histogram


def tensorflow_histogram(arrays: list[np.ndarray], bins: int) -> np.ndarray:
    """The reference: TensorFlow's ops, eagerly, over ``[min, max]`` (one value: a bin of width
    ``max(|v| 1e-6, 1e-6)``).  Traced, Grappler rewrites ``tf.linspace``'s arithmetic and its
    edges move by an ulp or so (which is why ``ENGINE_VERSION`` went to 5 with this change)."""
    values = tf.constant(np.concatenate([np.ravel(a) for a in arrays]).astype(np.float32))
    lo, hi = tf.reduce_min(values), tf.reduce_max(values)
    hi = tf.where(hi > lo, hi, lo + tf.maximum(tf.abs(lo) * 1e-6, 1e-6))
    counts = tf.cast(tf.histogram_fixed_width(values, tf.stack([lo, hi]), nbins=bins), tf.float32)
    edges = tf.linspace(lo, hi, bins + 1)
    return tf.stack([edges[:-1], edges[1:], counts], axis=1).numpy()


def cases() -> list[list[np.ndarray]]:
    rng = np.random.default_rng(0)
    return [
        [rng.normal(size=(784, 128)).astype(np.float32), np.zeros(128, np.float32)],
        [rng.uniform(-0.01, 0.0, size=(64, 64)).astype(np.float32)],  # the curriculum's init
        [(rng.normal(size=5000) * 1e-7).astype(np.float32)],  # tiny gradients
        [(rng.standard_cauchy(size=3000) * 1e4).astype(np.float32)],  # wide, heavy tails
        [np.full((10, 3), 0.37, np.float32)],  # one value
        [np.full(7, -2.5, np.float32)],
        [np.zeros(4, np.float32)],
        [np.array([1.0, 2.0], np.float32), np.array([3.0], np.float64)],  # another dtype
        [np.linspace(-1, 1, 31, dtype=np.float32)],  # values on the edges
    ]


@pytest.mark.parametrize("arrays", cases())
def test_the_histogram_has_the_bits_of_tensorflows(arrays):
    ours = histogram(arrays, HISTOGRAM_BINS)
    assert ours.dtype == np.float32 and ours.shape == (HISTOGRAM_BINS, 3)
    np.testing.assert_array_equal(ours, tensorflow_histogram(arrays, HISTOGRAM_BINS))


@pytest.mark.parametrize("arrays", cases())
def test_every_value_is_counted_once_within_its_edges(arrays):
    values = np.concatenate([np.ravel(a) for a in arrays]).astype(np.float32)
    table = histogram(arrays, 5)
    assert table[:, 2].sum() == values.size
    assert table[0, 0] == values.min() and table[-1, 1] >= values.max()
    assert np.all(np.diff(table[:, 0]) > 0)  # edges increase, even for a single value


def test_the_bits_match_over_many_scales_and_sizes():
    rng = np.random.default_rng(1)
    for _ in range(100):
        size = int(rng.integers(1, 3000))
        scale, shift = 10.0 ** rng.uniform(-8, 6), rng.normal() * 10.0 ** rng.uniform(-3, 3)
        values = (rng.normal(size=size) * scale + shift).astype(np.float32)
        np.testing.assert_array_equal(histogram([values], HISTOGRAM_BINS),
                                      tensorflow_histogram([values], HISTOGRAM_BINS))


def test_no_values_make_an_empty_histogram():
    table = histogram([np.zeros((3, 0), np.float32), np.zeros(0, np.float32)], HISTOGRAM_BINS)
    assert table.shape == (HISTOGRAM_BINS, 3) and not table.any()
