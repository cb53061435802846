"""``loss_not_decreasing`` and ``slow_convergence``: a loss that falls too little."""

from __future__ import annotations

import numpy as np

from trainspec.doctor.evidence import Context, may_raise_rate
from trainspec.doctor.rules.base import Rule
from trainspec.doctor.symptoms import Finding, Symptom, finding


def _started_low(ctx: Context) -> bool:
    # a classifier that starts far below -log(1/C) has little left to learn
    return ctx.chance_loss is not None and ctx.curve is not None and (
        ctx.curve.start < 0.5 * ctx.chance_loss
    )


class LossNotDecreasing(Rule):
    """
    ## What it does
    Reports a loss whose end (median of the last window) fell by less than ``min_decrease`` of
    its start, unless a classifier started far below -log(1/C) or the loss diverged.

    ## Why is this bad
    The model is not learning; the gradient and update findings name the mechanism.

    ## Evidence
    The loss at start and end and the relative decrease.

    ## Threshold
    ``min_decrease`` = 0.1 (DeepDiagnosis, Wardat et al., ICSE 2022, and AUTOTRAINER, "loss not
    decreasing / not converging").

    ## Fix
    Check the gradients reach every layer, the size of the updates, the labels.
    """

    name = "loss_not_decreasing"
    symptom = Symptom.LOSS_NOT_DECREASING
    thresholds = ("min_decrease",)
    harm = True

    def check(self, ctx: Context) -> list[Finding]:
        curve, t = ctx.curve, ctx.thresholds
        if curve is None or ctx.has(Symptom.DIVERGING_LOSS) or _started_low(ctx):
            return []
        if not (curve.decrease < t.min_decrease and curve.start > 1e-6):
            return []
        return [finding(
            Symptom.LOSS_NOT_DECREASING,
            # Series.change: the one definition of how a series changed (windowed medians)
            f"The loss went {ctx.run.loss.change(window=curve.window).describe()} in "
            f"{len(curve.loss)} steps: the model is not learning. Look at the gradient and "
            "update findings for the mechanism.",
            ["check that gradients reach every layer (activations, initialisation)",
             *(["raise the learning rate if the updates are tiny"] if may_raise_rate(ctx) else []),
             "check the labels match the inputs"],
            evidence={"loss_start": curve.start, "loss_end": curve.end,
                      "relative_decrease": curve.decrease, "threshold": t.min_decrease},
            strength=0.0,
        )]


class SlowConvergence(Rule):
    """
    ## What it does
    Reports a loss that fell by less than ``slow_decrease`` and is still falling steadily at the
    end: the second half fell at least ``slow_steadiness`` times as much as the first.

    ## Why is this bad
    Training works but each step does too little: the run ends long before the model is good.

    ## Evidence
    The relative decrease and the drops of the two halves.

    ## Threshold
    ``slow_decrease`` = 0.3, ``slow_steadiness`` = 0.5 (DeepDiagnosis, Wardat et al., ICSE
    2022, "slow convergence").

    ## Fix
    A 10x larger learning rate, Adam, normalised inputs or BatchNormalization.
    """

    name = "slow_convergence"
    symptom = Symptom.SLOW_CONVERGENCE
    thresholds = ("slow_decrease", "slow_steadiness")
    harm = True

    def check(self, ctx: Context) -> list[Finding]:
        curve, t = ctx.curve, ctx.thresholds
        if curve is None or ctx.has(Symptom.DIVERGING_LOSS) or _started_low(ctx):
            return []
        if ctx.has(Symptom.LOSS_NOT_DECREASING) or curve.decrease >= t.slow_decrease:
            return []
        n = len(curve.loss)
        mid = float(np.median(curve.loss[n // 2 - curve.window // 2: n // 2
                                         + curve.window // 2 + 1]))
        first_half, second_half = curve.start - mid, mid - curve.end
        if not (second_half > 0 and second_half >= t.slow_steadiness * max(first_half, 0.0)):
            return []
        return [finding(
            Symptom.SLOW_CONVERGENCE,
            f"The loss fell only {curve.decrease:.1%} in {n} steps and is still "
            "falling at a steady pace: training works but each step does too little.",
            [*(["raise the learning rate (try 10x)"] if may_raise_rate(ctx) else []),
             "use Adam", "normalise the inputs or add BatchNormalization"],
            evidence={"relative_decrease": curve.decrease, "first_half_drop":
                      first_half, "second_half_drop": second_half,
                      "threshold": t.slow_decrease},
        )]
