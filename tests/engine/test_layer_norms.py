"""trainspec.engine.probes.layer_norms: every per-layer norm of several quantities in one
reduction, equal to the norms taken layer by layer."""

from __future__ import annotations

import numpy as np
import tensorflow as tf

from trainspec.engine import probes


def test_fused_norms_match_per_layer_norms_in_any_layer_layout():
    rng = np.random.default_rng(0)
    shapes = [(5, 3), (3,), (3, 4, 2), (7,), (2, 2)]
    layers = [(0, 1), (2,), (3, 4)]  # a layer owns one or several variables
    quantities = [[rng.normal(size=s).astype(np.float32) * scale for s in shapes]
                  for scale in (1.0, 1e-3, 50.0)]
    fused = probes.layer_norms([[tf.constant(t) for t in q] for q in quantities], layers).numpy()
    assert fused.shape == (3, 3)
    expected = [[np.sqrt(sum(float(np.sum(np.square(q[j].astype(np.float64)))) for j in idx))
                 for idx in layers] for q in quantities]
    np.testing.assert_allclose(fused, expected, rtol=1e-5)
    half = probes.layer_norms([[tf.constant(t, tf.float16) for t in quantities[0]]], layers[:1])
    assert half.dtype == tf.float32 and half.shape == (1, 1)
