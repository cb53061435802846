"""``vanishing_gradient``: the first layer receives almost no gradient."""

from __future__ import annotations

import numpy as np

from trainspec.doctor.evidence import Context
from trainspec.doctor.rules.base import Rule
from trainspec.doctor.symptoms import Finding, Symptom, finding


class VanishingGradient(Rule):
    """
    ## What it does
    Reports a first layer whose gradient norm (median over the run) is at most
    ``vanishing_ratio`` of the last layer's while itself at most ``vanishing_first_norm``.

    ## Why is this bad
    Each layer on the way back multiplies the gradient by a small factor (a sigmoid's slope is
    at most 0.25), so the early layers barely learn.

    ## Evidence
    The median gradient norms of the first and last layers with gradients, and their ratio.

    ## Threshold
    ``vanishing_ratio`` = 1e-3 and ``vanishing_first_norm`` = 1e-4 (AUTOTRAINER, Zhang et al.,
    ICSE 2021, "vanishing gradient").

    ## Fix
    ReLU-family activations with He initialisation, BatchNormalization, fewer layers or
    residual connections.
    """

    name = "vanishing_gradient"
    symptom = Symptom.VANISHING_GRADIENT
    thresholds = ("vanishing_ratio", "vanishing_first_norm")

    def check(self, ctx: Context) -> list[Finding]:
        if len(ctx.layers) < 2:
            return []
        t = ctx.thresholds
        firstl, lastl = ctx.layers[0], ctx.layers[-1]
        g_first = float(np.median(np.asarray(firstl.grad_norm)))
        g_last = float(np.median(np.asarray(lastl.grad_norm)))
        if not (g_first > 0 and g_last > 0 and g_first / g_last <= t.vanishing_ratio
                and g_first <= t.vanishing_first_norm):
            return []
        return [finding(
            Symptom.VANISHING_GRADIENT,
            f"The first layer {firstl.name!r} receives a gradient of {g_first:.2g}, "
            f"{g_first / g_last:.1e} of the last layer's: each layer on the way back "
            "multiplies it by a small factor (a sigmoid's slope is at most 0.25), so the "
            "early layers barely learn.",
            ["use ReLU-family activations with He initialisation", "add "
             "BatchNormalization", "use fewer layers or residual connections"],
            layer=firstl.name, evidence={"grad_norm_first": g_first, "grad_norm_last": g_last,
                                         "ratio": g_first / g_last,
                                         "threshold_ratio": t.vanishing_ratio},
        )]
