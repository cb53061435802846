"""``exploding_gradient``: a gradient that grows during the run, or that is far larger in the
first layer than in the last."""

from __future__ import annotations

import numpy as np

from trainspec.doctor.evidence import Context
from trainspec.doctor.rules.base import Rule
from trainspec.doctor.symptoms import Finding, Symptom, finding, past


def rolling_median3(values: np.ndarray) -> np.ndarray:
    """The median of each value and the two before it (of what there is at the first two), in
    one vectorised median: a run's every layer, at every step.

    Example:
        >>> rolling_median3(np.array([1.0, 9.0, 2.0, 8.0]))
        array([1., 5., 2., 8.])
    """
    head = [np.median(values[: i + 1]) for i in range(min(2, len(values)))]
    if len(values) < 3:
        return np.array(head, dtype=np.float64)
    windows = np.lib.stride_tricks.sliding_window_view(values, 3)
    return np.concatenate([head, np.median(windows, axis=1)])


class ExplodingGrowth(Rule):
    """
    ## What it does
    Reports a layer whose gradient norm (a rolling median over 3 steps) grows to
    ``exploding_ratio`` times its value at the start, or a gradient that became non-finite.

    ## Why is this bad
    Large updates make the weights and activations larger, which makes the next gradients
    larger still, until the run overflows.

    ## Evidence
    The gradient norm at the start (median of the first tenth, at most 10 steps) and its peak.

    ## Threshold
    ``exploding_ratio`` = 70: AUTOTRAINER (Zhang et al., ICSE 2021) flags a first/last gradient
    ratio of 70; the same factor is applied to one layer's growth over the run.

    ## Fix
    A lower learning rate, gradient clipping (clipnorm=1.0), a variance-preserving initialiser
    or BatchNormalization.
    """

    name = "exploding_growth"
    symptom = Symptom.EXPLODING_GRADIENT
    thresholds = ("exploding_ratio",)
    harm = True

    def check(self, ctx: Context) -> list[Finding]:
        if not ctx.layers:
            return []
        t = ctx.thresholds
        for lt in ctx.layers:
            g = np.asarray(lt.grad_norm, dtype=np.float64)
            w = max(1, min(10, len(g) // 10))
            base = float(np.median(g[:w]))
            rolled = rolling_median3(g)
            peak = float(rolled.max())
            if base > 0 and peak >= t.exploding_ratio * base:
                return [finding(
                    Symptom.EXPLODING_GRADIENT,
                    f"The gradient of layer {lt.name!r} grew {peak / base:.3g}x during the run: "
                    "large updates make the weights and activations larger, which makes the next "
                    "gradients larger still.",
                    ["lower the learning rate", "clip gradients (clipnorm=1.0)",
                     "use a variance-preserving initialiser (He for ReLU, Glorot for tanh) or "
                     "BatchNormalization"],
                    layer=lt.name, step=int(rolled.argmax()),
                    evidence={"grad_norm_start": base, "grad_norm_peak": peak,
                              "growth": peak / base, "threshold": t.exploding_ratio},
                    strength=0.5 + 0.5 * past(peak / base, t.exploding_ratio),
                )]
        nf = ctx.run.nonfinite
        if nf is not None and nf.tensor.startswith("gradient"):
            return [finding(
                Symptom.EXPLODING_GRADIENT,
                f"The {nf.tensor} became non-finite at step {nf.step}.",
                ["lower the learning rate", "clip gradients (clipnorm=1.0)"],
                step=nf.step, evidence={"tensor": nf.tensor}, strength=1.0,
            )]
        return []


class ExplodingRatio(Rule):
    """
    ## What it does
    Reports a first layer whose gradient norm (median over the run) is ``exploding_ratio``
    times the last layer's, when no growth was reported.

    ## Why is this bad
    Each layer on the way back multiplies the gradient by a factor above 1: the early layers
    take huge steps while the late ones barely move.

    ## Evidence
    The median gradient norms of the first and last layers with gradients, and their ratio.

    ## Threshold
    ``exploding_ratio`` = 70 (AUTOTRAINER, Zhang et al., ICSE 2021, "exploding gradient").

    ## Fix
    A variance-preserving initialiser (He for ReLU, Glorot for tanh), clipping, BatchNormalization.
    """

    name = "exploding_ratio"
    symptom = Symptom.EXPLODING_GRADIENT
    thresholds = ("exploding_ratio",)

    def check(self, ctx: Context) -> list[Finding]:
        if len(ctx.layers) < 2 or ctx.has(Symptom.EXPLODING_GRADIENT):
            return []
        firstl, lastl = ctx.layers[0], ctx.layers[-1]
        g_first = float(np.median(np.asarray(firstl.grad_norm)))
        g_last = float(np.median(np.asarray(lastl.grad_norm)))
        if not (g_last > 0 and g_first / g_last >= ctx.thresholds.exploding_ratio):
            return []
        return [finding(
            Symptom.EXPLODING_GRADIENT,
            f"The first layer's gradient is {g_first / g_last:.3g}x the last layer's: each "
            "layer on the way back multiplies it by a factor above 1.",
            ["use a variance-preserving initialiser (He for ReLU, Glorot for tanh)",
             "clip gradients (clipnorm=1.0)", "add BatchNormalization"],
            layer=firstl.name, evidence={"grad_norm_first": g_first, "grad_norm_last": g_last,
                                         "ratio": g_first / g_last},
            strength=0.5 + 0.5 * past(g_first / g_last, ctx.thresholds.exploding_ratio),
        )]
