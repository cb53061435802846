"""``oscillating_loss``: a loss that bounces without getting lower."""

from __future__ import annotations

import numpy as np

from trainspec.doctor.evidence import Context, still_falling
from trainspec.doctor.rules.base import Rule
from trainspec.doctor.symptoms import Finding, Symptom, finding


class OscillatingLoss(Rule):
    """
    ## What it does
    Reports a second half of the run whose loss swings with a coefficient of variation above
    ``oscillation_cv`` while it stays above half its start, has fallen less than half overall,
    and is not still trending down (a two-standard-error test on the slope).

    ## Why is this bad
    The steps are too large to settle into the minimum and bounce across it.

    ## Evidence
    The coefficient of variation of the second half, the loss at start and end.

    ## Threshold
    ``oscillation_cv`` = 0.25 (AUTOTRAINER, Zhang et al., ICSE 2021, "unstable/oscillating
    loss"; sampling noise around a falling loss is excluded by the slope test).

    ## Fix
    A 3-10x lower learning rate, a larger batch, a decaying rate, momentum or Adam.
    """

    name = "oscillating_loss"
    symptom = Symptom.OSCILLATING_LOSS
    thresholds = ("oscillation_cv",)
    harm = True

    def check(self, ctx: Context) -> list[Finding]:
        curve, t = ctx.curve, ctx.thresholds
        if curve is None or ctx.has(Symptom.DIVERGING_LOSS):
            return []
        half = curve.loss[len(curve.loss) // 2:]
        cv = float(np.std(half) / np.mean(half)) if np.mean(half) > 0 else 0.0
        stuck = float(np.median(half)) > 0.5 * curve.start
        if not (stuck and cv > t.oscillation_cv and curve.decrease < 0.5
                and not still_falling(half)):
            return []
        return [finding(
            Symptom.OSCILLATING_LOSS,
            f"In the second half the loss swings by {cv:.0%} of its level (coefficient of "
            "variation) without getting lower: the steps are too large to settle into "
            "the minimum and bounce across it.",
            ["lower the learning rate 3-10x", "use a larger batch", "decay the learning "
             "rate", "use momentum or Adam"],
            evidence={"cv_second_half": cv, "threshold": t.oscillation_cv,
                      "loss_start": curve.start, "loss_end": curve.end},
        )]
