"""``vanishing_gradient``: the first layer receives almost no gradient."""

from __future__ import annotations

import numpy as np

from trainspec.doctor.evidence import Context
from trainspec.doctor.rules.base import Rule
from trainspec.doctor.symptoms import Finding, Symptom, finding, past


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
    ICSE 2021, "vanishing gradient"). The same ratio bound, with ``update_ratio_low`` for the
    first layer, is also applied to the update ratio (|update| / |weights|, scale-free): a
    784-input first layer has a large gradient norm because it has many weights, so
    AUTOTRAINER's absolute bound missed a 5-layer sigmoid stack whose first layer moves 1/1600
    as much as its last (the course's Fail2). The update-ratio form needs harm in the run (the loss
    did not fall, accuracy at chance).

    ## Fix
    ReLU-family activations with He initialisation, BatchNormalization, fewer layers or
    residual connections.
    """

    name = "vanishing_gradient"
    symptom = Symptom.VANISHING_GRADIENT
    thresholds = ("vanishing_ratio", "vanishing_first_norm", "update_ratio_low")

    def check(self, ctx: Context) -> list[Finding]:
        if len(ctx.layers) < 2:
            return []
        t = ctx.thresholds
        firstl, lastl = ctx.layers[0], ctx.layers[-1]
        g_first = float(np.median(np.asarray(firstl.grad_norm)))
        g_last = float(np.median(np.asarray(lastl.grad_norm)))
        by_grad = (g_first > 0 and g_last > 0 and g_first / g_last <= t.vanishing_ratio
                   and g_first <= t.vanishing_first_norm)
        u_first = float(np.median(np.asarray(firstl.update_ratio, dtype=np.float64)[1:]))
        u_last = float(np.median(np.asarray(lastl.update_ratio, dtype=np.float64)[1:]))
        by_update = ctx.harm and u_first > 0 and u_last > 0 and (
            u_first / u_last <= t.vanishing_ratio and u_first <= t.update_ratio_low)
        if by_update and not by_grad:
            return [finding(
                Symptom.VANISHING_GRADIENT,
                f"Each step moves the first layer {firstl.name!r} by {u_first:.2g} of its "
                f"weights, {u_first / u_last:.1e} of what it moves the last layer: the gradient "
                "fades on its way back through the layers (a sigmoid's slope is at most 0.25), "
                "so the early layers barely learn.",
                ["use ReLU-family activations with He initialisation", "add "
                 "BatchNormalization", "use fewer layers or residual connections"],
                layer=firstl.name, evidence={"update_ratio_first": u_first,
                                             "update_ratio_last": u_last,
                                             "ratio": u_first / u_last,
                                             "threshold_ratio": t.vanishing_ratio},
                strength=past(u_first / u_last, t.vanishing_ratio, below=True) * 0.5 + 0.5,
            )]
        if not by_grad:
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
            strength=past(g_first / g_last, t.vanishing_ratio, below=True) * 0.5 + 0.5,
        )]
