"""``bad_initial_loss``: a classifier's first loss far above -log(1/C)."""

from __future__ import annotations

from trainspec.doctor.evidence import Context
from trainspec.doctor.rules.base import Rule
from trainspec.doctor.symptoms import Finding, Symptom, finding


class BadInitialLoss(Rule):
    """
    ## What it does
    Reports a cross-entropy classifier whose first loss is more than ``initial_loss_factor``
    times -log(1/C), the loss of a uniform guess over C classes, unless the run recovered: its
    loss ends below -log(1/C).

    ## Why is this bad
    The initial weights are far too large (or a regularisation penalty dominates), so the first
    predictions are confidently wrong and the first steps are spent undoing the initialisation.

    ## Evidence
    The first recorded loss, -log(1/C) and their ratio.

    ## Threshold
    ``initial_loss_factor`` = 3: Karpathy, "A Recipe for Training Neural Networks" (2019),
    verify the loss at init is about -log(1/C); Glorot/He-initialised nets land within ~2x.
    Changed with issue 12: Karpathy's check predicts wasted steps, and a run whose loss ends
    below the guessing loss has already paid them; a pretrained body under a fresh head
    starts 10x above log 2 and trains well (the curriculum's ``transfer_learning`` fix), so
    reporting it would be a false alarm on a healthy run.

    ## Fix
    The default Glorot/He initialiser, scaled inputs, a small output layer initialisation.
    """

    name = "bad_initial_loss"
    symptom = Symptom.BAD_INITIAL_LOSS
    thresholds = ("initial_loss_factor",)

    def check(self, ctx: Context) -> list[Finding]:
        chance_loss, curve = ctx.chance_loss, ctx.curve
        if curve is None or not chance_loss:
            return []
        first = float(curve.loss[0])
        if first <= ctx.thresholds.initial_loss_factor * chance_loss or curve.end < chance_loss:
            return []
        return [finding(
            Symptom.BAD_INITIAL_LOSS,
            f"The first loss is {first:.3g}, but a freshly initialised classifier over "
            f"{ctx.run.n_classes} classes should be near -log(1/C) = {chance_loss:.3g}: the "
            "initial weights are far too large, so the first predictions are confidently "
            "wrong (or a regularisation penalty dominates the loss).",
            ["use the default Glorot/He initialiser", "scale the inputs",
             "initialise the output layer's weights small"],
            step=0, evidence={"loss_first": first, "expected": chance_loss,
                              "factor": first / chance_loss},
        )]
