"""``loss_not_decreasing`` and ``slow_convergence``: a loss that falls too little."""

from __future__ import annotations

import numpy as np

from trainspec.doctor.evidence import Context, accuracy_learned, may_raise_rate, still_falling
from trainspec.doctor.rules.base import Rule
from trainspec.doctor.symptoms import Finding, Symptom, finding


def _started_low(ctx: Context) -> bool:
    # a classifier that starts far below -log(1/C) has little left to learn
    return ctx.chance_loss is not None and ctx.curve is not None and (
        ctx.curve.start < 0.5 * ctx.chance_loss
    )


def _halves(ctx: Context) -> tuple[float, float]:
    """How much the loss fell in the first and in the second half of the run (window medians)."""
    curve = ctx.curve
    n = len(curve.loss)
    mid = float(np.median(curve.loss[n // 2 - curve.window // 2: n // 2 + curve.window // 2 + 1]))
    return curve.start - mid, mid - curve.end


def _steadily_falling(ctx: Context) -> bool:
    """The loss is still going down at the end, as steadily as at the start: its second half
    fell at least ``slow_steadiness`` times as much as its first, with a significant downward
    trend (two standard errors, :func:`~trainspec.doctor.evidence.still_falling`)."""
    first, second = _halves(ctx)
    half = ctx.curve.loss[len(ctx.curve.loss) // 2:]
    return (second > 0 and second >= ctx.thresholds.slow_steadiness * max(first, 0.0)
            and still_falling(half))


class LossNotDecreasing(Rule):
    """
    ## What it does
    Reports a loss whose end (median of the last window) fell by less than ``min_decrease`` of
    its start, unless a classifier started far below -log(1/C) or the loss diverged; a loss
    still falling steadily at the end is left to ``slow_convergence``, and a recorded accuracy
    that got more than half of the way from chance to 1 shows learning, whatever the loss did.

    ## Why is this bad
    The model is not learning; the gradient and update findings name the mechanism.

    ## Evidence
    The loss at start and end and the relative decrease.

    ## Threshold
    ``min_decrease`` = 0.1 (DeepDiagnosis, Wardat et al., ICSE 2022, and AUTOTRAINER, "loss not
    decreasing / not converging").  Changed with issue 12: DeepDiagnosis judges the loss alone,
    which flagged sweep points that train well (a categorical hinge loss falls 5% while the
    accuracy goes from 0.15 to 0.66) and called "not decreasing" a loss still falling steadily
    at a too-small learning rate (that is slow convergence, whose fix is known).

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
        if accuracy_learned(ctx) or (curve.decrease > 0 and _steadily_falling(ctx)):
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
    end: the second half fell at least ``slow_steadiness`` times as much as the first, with a
    downward trend beyond two standard errors; not when the recorded accuracy already got more
    than half of the way from chance to 1 (the model learned; the loss's scale is slow).

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
        if accuracy_learned(ctx) or not _steadily_falling(ctx):
            return []
        n = len(curve.loss)
        first_half, second_half = _halves(ctx)
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
