"""``diverging_loss``: the loss climbs instead of settling."""

from __future__ import annotations

import numpy as np

from trainspec.doctor.evidence import Context
from trainspec.doctor.rules.base import Rule
from trainspec.doctor.symptoms import Finding, Symptom, finding


class DivergingLoss(Rule):
    """
    ## What it does
    Reports a loss that ends ``diverge_rise`` above its start, or that gave back more than
    ``diverge_rebound`` of the progress it had made (and ends above twice its low); in a run that
    broke down (NaN), a loss that peaked ``diverge_rise`` above its start first.

    ## Why is this bad
    Each update overshoots the minimum and lands higher up the other side.

    ## Evidence
    The loss at the start and end (medians over a window), its low point and the step of it.

    ## Threshold
    ``diverge_rise`` = 0.5, ``diverge_rebound`` = 0.5 (AUTOTRAINER, Zhang et al., ICSE 2021,
    "exploding loss").

    ## Fix
    A 10x smaller learning rate, gradient clipping, a decaying learning-rate schedule.
    """

    name = "diverging_loss"
    symptom = Symptom.DIVERGING_LOSS
    thresholds = ("diverge_rise", "diverge_rebound")
    harm = True

    def check(self, ctx: Context) -> list[Finding]:
        t, curve = ctx.thresholds, ctx.curve
        if ctx.run.nonfinite is not None:
            loss = np.asarray(ctx.run.loss, dtype=np.float64)
            if len(loss) < 2:
                return []
            w = max(1, min(10, len(loss) // 3))
            start = float(np.median(loss[:w]))
            peak = float(np.max(loss))
            if not (start > 0 and peak > start * (1 + t.diverge_rise)):
                return []
            return [finding(
                Symptom.DIVERGING_LOSS,
                "The loss rose instead of falling before the run broke down: each update "
                "overshoots the minimum and lands higher up the other side.",
                ["lower the learning rate (try 10x smaller)", "add gradient clipping"],
                step=int(np.argmax(loss)), evidence={"loss_start": start, "loss_peak": peak},
            )]
        if curve is None:
            return []
        rose = curve.start > 0 and curve.end > curve.start * (1 + t.diverge_rise)
        progress = curve.start - curve.low
        rebounded = (
            progress > 0.1 * curve.start and curve.end - curve.low > t.diverge_rebound * progress
            and curve.end > 2 * curve.low
        )
        if not (rose or rebounded):
            return []
        return [finding(
            Symptom.DIVERGING_LOSS,
            f"The loss ended at {curve.end:.3g} after starting at {curve.start:.3g}"
            + (f" and reaching {curve.low:.3g}" if rebounded else "")
            + ": updates overshoot, so the loss climbs instead of settling.",
            ["lower the learning rate (try 10x smaller)", "add gradient clipping",
             "use a learning-rate schedule that decays"],
            step=curve.low_step if rebounded else None,
            evidence={"loss_start": curve.start, "loss_min": curve.low, "loss_end": curve.end},
        )]
