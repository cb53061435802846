"""Synthetic runs for the doctor's rules: a healthy classifier's traces, with one thing changed.

``make_run()`` builds a :class:`trainspec.Run` directly (no TensorFlow, no training), so each
rule is tested on a run that shows its symptom and on one that does not in microseconds.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import numpy as np

from trainspec.constants import ActivationKind
from trainspec.run import ActivationTrace, LayerTrace, NonFinite, Run, TraceMap
from trainspec.series import Series

STEPS = 80


def series(name: str, values: Any, steps: Sequence[int] | None = None) -> Series:
    values = np.asarray(values, dtype=np.float32)
    return Series(name, values, np.arange(len(values)) if steps is None else np.asarray(steps))


def healthy_loss(n: int = STEPS) -> np.ndarray:
    rng = np.random.default_rng(0)
    return math.log(3) * np.exp(-np.arange(n) / 15) + 0.05 + 0.01 * rng.random(n)


def layer(name: str, index: int, grad: Any = 0.5, update: Any = 1e-3, n: int = STEPS) -> LayerTrace:
    def full(v: Any) -> np.ndarray:
        return np.full(n, v) if np.isscalar(v) else np.asarray(v)

    return LayerTrace(name, index, "Dense", 100, series("grad_norm", full(grad)),
                      series("weight_norm", full(1.0)), series("update_ratio", full(update)))


def activation(name: str, index: int, kind: str = "relu", dead: float = 0.1,
               saturated: float = 0.0, n: int = STEPS) -> ActivationTrace:
    return ActivationTrace(name, index, ActivationKind(kind), kind, 16,
                           series("dead", np.full(n, dead)), series("saturated", np.full(n, saturated)),
                           series("mean", np.full(n, 0.5)), series("std", np.full(n, 1.0)))


def make_run(loss: Any = None, acc: float | Any | None = 0.95, layers: list[LayerTrace] | None = None,
             activations: list[ActivationTrace] | None = None, nonfinite: NonFinite | None = None,
             val_history: dict[str, Series] | None = None, val: dict[str, float] | None = None,
             n_classes: int | None = 3, loss_name: str | None = "sparse_categorical_crossentropy",
             label: str = "synthetic") -> Run:
    """A run with a healthy classifier's traces unless told otherwise."""
    loss = healthy_loss() if loss is None else np.asarray(loss, dtype=np.float64)
    n = len(loss)
    metrics = {}
    if acc is not None:
        metrics["accuracy"] = series("accuracy", np.full(n, acc) if np.isscalar(acc) else acc)
    if layers is None:
        layers = [layer("dense", 0, n=n), layer("dense_1", 1, n=n), layer("out", 2, n=n)]
    if activations is None:
        activations = [activation("dense", 0, n=n), activation("dense_1", 1, n=n),
                       activation("out", 2, kind="softmax", dead=0.0, n=n)]
    return Run(
        label=label, seed=0, steps_requested=n, batch_size=32, loss=series("loss", loss),
        metrics=metrics, layers=TraceMap(layers), activations=TraceMap(activations),
        nonfinite=nonfinite, val_history=val_history or {}, val=val or {},
        stopped_early_at=None, histograms=None, fingerprint="synthetic", wall_time=0.0,
        n_classes=n_classes, output_activation="softmax", loss_name=loss_name,
    )
