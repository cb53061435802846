"""``accuracy_at_chance``: a classifier no better than guessing."""

from __future__ import annotations

import numpy as np

from trainspec.doctor.evidence import Context, accuracy_of, chance_accuracy, val_accuracy
from trainspec.doctor.rules.base import Rule
from trainspec.doctor.symptoms import Finding, Symptom, finding


class AccuracyAtChance(Rule):
    """
    ## What it does
    Reports a classifier whose training accuracy (median of the last window), or else its final
    validation accuracy, is within ``chance_margin`` of chance (1/C, or the majority class's
    share); without an accuracy metric, a cross-entropy that ends at log C.

    ## Why is this bad
    The model has learned nothing about the labels (or nothing that carries to held-out data).

    ## Evidence
    The accuracy (or loss) at the end and the chance level.

    ## Threshold
    ``chance_margin`` = 0.1 of (1 - chance).

    ## Fix
    Check the labels are aligned with the inputs, that the gradient reaches the weights, that
    training inputs look like validation inputs.
    """

    name = "accuracy_at_chance"
    symptom = Symptom.ACCURACY_AT_CHANCE
    thresholds = ("chance_margin",)
    harm = True

    def check(self, ctx: Context) -> list[Finding]:
        run, curve, t = ctx.run, ctx.curve, ctx.thresholds
        chance = chance_accuracy(run, ctx.recipe)
        if curve is None or chance is None:
            return []
        at_chance = chance + t.chance_margin * (1 - chance)
        acc = accuracy_of(run)
        w = curve.window
        if acc is not None and len(acc[1]) >= w:
            final = float(np.median(acc[1][-w:]))
            if final <= at_chance:
                return [finding(
                    Symptom.ACCURACY_AT_CHANCE,
                    f"The {acc[0]} ends at {final:.3g}, no better than guessing ({chance:.3g}): "
                    "the model has learned nothing about the labels.",
                    ["check the labels are aligned with the inputs", "look at the gradient "
                     "findings: the signal may not reach the weights", "lower a huge "
                     "regularisation penalty"],
                    evidence={"accuracy": final, "chance": chance}, strength=0.0,
                )]
        val_acc = val_accuracy(run)
        if val_acc is not None and val_acc <= at_chance:
            return [finding(
                Symptom.ACCURACY_AT_CHANCE,
                f"The validation accuracy ends at {val_acc:.3g}, no better than guessing "
                f"({chance:.3g}): whatever the model fitted on the training data does not carry "
                "over to held-out inputs (noise or corrupted inputs, misaligned labels, or "
                "memorisation).",
                ["check the training inputs look like the validation inputs (noise, scaling, "
                 "augmentation)", "check the labels are aligned with the inputs", "regularise "
                 "or use more data if the training accuracy is high"],
                evidence={"val_accuracy": val_acc, "chance": chance}, strength=0.0,
            )]
        chance_loss = ctx.chance_loss
        if (acc is None or len(acc[1]) < w) and chance_loss and (
            curve.end >= (1 - t.chance_margin / 2) * chance_loss
        ):
            return [finding(
                Symptom.ACCURACY_AT_CHANCE,
                f"The loss ends at {curve.end:.3g}, the cross-entropy of a uniform guess "
                f"(log C = {chance_loss:.3g}): the model predicts no better than chance.",
                ["check the labels", "look at the gradient findings"],
                evidence={"loss_end": curve.end, "chance_loss": chance_loss}, strength=0.0,
            )]
        return []
