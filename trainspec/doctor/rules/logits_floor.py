"""``probabilities_as_logits`` seen in the run: the loss stuck on the double-softmax floor."""

from __future__ import annotations

import math

import numpy as np

from trainspec.doctor.evidence import Context, accuracy_of, chance_accuracy, is_crossentropy
from trainspec.doctor.rules.base import Rule
from trainspec.doctor.symptoms import Finding, Symptom, finding


class LogitsFloor(Rule):
    """
    ## What it does
    Reports a cross-entropy over C classes whose lowest (smoothed) value sits at or just above
    log(1 + (C-1)/e) while the accuracy is far above chance (or unknown), and no single step's
    loss went below that floor: a twice-squashed loss cannot, so a run that did was only
    passing through the floor's value on its way down.

    ## Why is this bad
    That floor is what a cross-entropy that applies softmax reaches when it is fed softmax
    probabilities (``from_logits=True`` or ``*_with_logits`` after a softmax layer): predictions
    are squashed twice and the gradients shrink.

    ## Evidence
    The loss's low point, the floor and C.

    ## Threshold
    ``floor_tolerance`` = 0.05 relative to the floor (the floor itself is exact arithmetic).

    ## Fix
    Drop the output softmax and keep ``from_logits=True``, or keep it and use
    ``from_logits=False``.
    """

    name = "logits_floor"
    symptom = Symptom.PROBABILITIES_AS_LOGITS
    thresholds = ("floor_tolerance",)

    def check(self, ctx: Context) -> list[Finding]:
        run, curve, t = ctx.run, ctx.curve, ctx.thresholds
        chance = chance_accuracy(run, ctx.recipe)
        if curve is None or chance is None or not is_crossentropy(run):
            return []
        if not run.n_classes or run.n_classes < 2:
            return []
        c = run.n_classes
        floor = math.log(1 + (c - 1) / math.e)
        near_floor = floor <= curve.low * (1 + 1e-6) + 1e-6 and (
            curve.low <= floor * (1 + t.floor_tolerance)
        )
        acc = accuracy_of(run)
        confident = False
        final = None
        if acc is not None and len(acc[1]) >= curve.window:
            final = float(np.median(acc[1][-curve.window:]))
            confident = final >= chance + 0.5 * (1 - chance)
        if not (near_floor and (confident or acc is None)):
            return []
        if float(np.min(curve.loss)) < floor * (1 - 1e-6):
            return []  # below the floor on some step: not a twice-applied softmax
        return [finding(
            Symptom.PROBABILITIES_AS_LOGITS,
            f"The loss never goes below {curve.low:.3g}, at or above "
            f"log(1 + (C-1)/e) = {floor:.3g} for C={c}, the floor reached when softmax "
            "probabilities are fed to a cross-entropy that applies softmax again "
            "(from_logits=True, *_with_logits)"
            + (f", although accuracy is {final:.3g}" if acc is not None else "") + ".",
            ["drop the softmax from the output layer and keep from_logits=True", "or "
             "keep the softmax and use a loss with from_logits=False"],
            evidence={"loss_min": curve.low, "floor": floor, "n_classes": c},
        )]
