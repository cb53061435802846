"""``learning_rate_too_high``: a rate far above the optimizer's usual range, with harm to show."""

from __future__ import annotations

from trainspec.doctor.evidence import Context, optimizer_and_rate, rate_above_usual
from trainspec.doctor.rules.base import Rule
from trainspec.doctor.symptoms import Finding, Symptom, finding, past


class LearningRateTooHigh(Rule):
    """
    ## What it does
    Reports a recipe whose learning rate is above ``lr_usual_factor`` times its optimizer's
    Keras default (0.01 for SGD, 0.001 for Adam, RMSprop, Adagrad...), when the run shows harm
    (the loss does not fall, oscillates or diverges, the accuracy stays at chance, a NaN).

    ## Why is this bad
    Each step overshoots: units are pushed where ReLU has no gradient, the loss bounces or
    climbs.  It is the cause, and dead units, a flat loss or small later updates (the network
    has collapsed) are its consequences: raising the rate further would make it worse.

    ## Evidence
    The optimizer, its learning rate, the top of the usual range and how many times above it.

    ## Threshold
    ``lr_usual_factor`` = 10: the usual range tops out at 10x the optimizer's Keras default
    (Bengio, "Practical recommendations for gradient-based training", 2012: "the default 0.01
    typically works for standard multi-layer networks"; Adam's 0.001 from Kingma & Ba, 2015).
    Needs harm in the run, so a high rate that trains well is not reported.

    ## Fix
    A learning rate within the usual range (start at the default), or a decaying schedule.
    """

    name = "learning_rate_too_high"
    symptom = Symptom.LEARNING_RATE_TOO_HIGH
    thresholds = ("lr_usual_factor",)

    def check(self, ctx: Context) -> list[Finding]:
        if not ctx.harm:
            return []
        factor = ctx.thresholds.lr_usual_factor
        above = rate_above_usual(ctx.recipe, factor)
        if above is None:
            return []
        name, rate = optimizer_and_rate(ctx.recipe)
        top = rate / above
        suggestion = top / factor
        return [finding(
            Symptom.LEARNING_RATE_TOO_HIGH,
            f"The learning rate {rate:g} is {above:.3g}x the top of {name}'s usual range "
            f"({top:g}, {factor:g}x its default {suggestion:g}) and the run shows harm: each "
            "step overshoots, and the other findings follow from it.",
            [f"lower the learning rate to about {suggestion:g} (the {name} default)",
             "or use a schedule that decays from a smaller rate"],
            evidence={"optimizer": name, "learning_rate": rate, "usual_top": top,
                      "times_above": above},
            strength=past(above, 1.0),
        )]
