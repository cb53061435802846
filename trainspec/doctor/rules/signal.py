"""``no_learnable_signal`` and a negative cross-entropy (``output_mismatch``): the labels or
the outputs, not the optimisation, are what is wrong."""

from __future__ import annotations

import numpy as np

from trainspec.doctor.evidence import Context, is_crossentropy, signal_in_inputs
from trainspec.doctor.rules.base import Rule
from trainspec.doctor.symptoms import Finding, Symptom, finding

#: Families that explain a model learning nothing by the optimisation itself.
_MECHANISMS = frozenset({"learning_rate", "exploding_gradient", "vanishing_gradient", "dead_units",
                         "initialisation", "frozen", "activation"})


class NoLearnableSignal(Rule):
    """
    ## What it does
    Reports a classifier whose accuracy stays at chance while every layer's updates are within
    the healthy range and no mechanism (gradients, units, initialisation, learning rate) is
    found: the optimisation works, yet nothing about the labels is learned.  With the recipe,
    not when the raw inputs do predict the labels (a nearest class mean on held-out samples
    beats the majority share beyond sampling noise): the labels then carry signal, and saying
    otherwise would send the user to check data that is fine.

    ## Why is this bad
    The labels carry no signal the model can reach from the inputs: labels shuffled or
    misaligned with the inputs (a data loader bug), or inputs that no longer hold the
    information (Zhang et al., "Understanding deep learning requires rethinking
    generalization", ICLR 2017: with random labels training stays at chance until memorised).

    ## Evidence
    The chance-level finding and the layers' median update ratios (all in range).

    ## Threshold
    ``update_ratio_low`` / ``update_ratio_high`` for "updates in range" (CS231n), ``chance_margin``
    for "at chance".

    ## Fix
    Check the labels are aligned with the inputs (shuffle both together), look at a few samples
    with their labels.
    """

    name = "no_learnable_signal"
    symptom = Symptom.NO_LEARNABLE_SIGNAL
    thresholds = ("update_ratio_low", "update_ratio_high", "chance_margin")

    def check(self, ctx: Context) -> list[Finding]:
        chance = next((f for f in ctx.found if f.symptom is Symptom.ACCURACY_AT_CHANCE), None)
        if chance is None or "accuracy" not in chance.evidence or not ctx.layers:
            return []
        if any(f.family in _MECHANISMS for f in ctx.found):
            return []
        t = ctx.thresholds
        ratios = [float(np.median(np.asarray(lt.update_ratio, dtype=np.float64)[1:]))
                  for lt in ctx.layers if len(lt.update_ratio) > 1]
        if not ratios or not all(t.update_ratio_low <= r <= t.update_ratio_high for r in ratios):
            return []
        if ctx.recipe is not None and signal_in_inputs(ctx.recipe):
            return []  # the inputs predict the labels: the data is not what is wrong
        return [finding(
            Symptom.NO_LEARNABLE_SIGNAL,
            f"The weights move at a healthy pace (update ratios {min(ratios):.2g}-"
            f"{max(ratios):.2g}) and the gradients reach every layer, yet the accuracy stays at "
            f"chance ({chance.evidence['accuracy']:.3g}): the labels carry nothing the model can "
            "learn from these inputs.",
            ["check the labels are aligned with the inputs (shuffle x and y together)",
             "look at a few inputs with their labels"],
            evidence={"accuracy": chance.evidence["accuracy"], "chance": chance.evidence["chance"],
                      "update_ratio_min": min(ratios), "update_ratio_max": max(ratios)},
            strength=0.6,
        )]


class NegativeCrossEntropy(Rule):
    """
    ## What it does
    Reports a cross-entropy loss that goes below zero.

    ## Why is this bad
    A cross-entropy of probabilities against labels in [0, 1] is never negative: a negative value
    means the labels are outside [0, 1] (unscaled or signed targets) or the outputs are not
    probabilities, so the loss rewards the wrong thing.

    ## Evidence
    The lowest loss and the step of it.

    ## Threshold
    None: below zero, beyond float rounding (-1e-6).

    ## Fix
    Labels in [0, 1] (or class indices for the sparse loss), and an output activation that
    matches the loss.
    """

    name = "negative_crossentropy"
    symptom = Symptom.OUTPUT_MISMATCH

    def check(self, ctx: Context) -> list[Finding]:
        if not is_crossentropy(ctx.run):
            return []
        loss = np.asarray(ctx.run.loss, dtype=np.float64)
        loss = loss[np.isfinite(loss)]
        if not len(loss) or float(loss.min()) >= -1e-6:
            return []
        return [finding(
            Symptom.OUTPUT_MISMATCH,
            f"The cross-entropy goes negative (down to {float(loss.min()):.3g}), which it cannot "
            "do with labels in [0, 1] and probability outputs: the labels or the output "
            "activation do not match the loss.",
            ["use labels in [0, 1] (or class indices with the sparse loss)", "match the output "
             "activation to the loss (sigmoid + binary_crossentropy, softmax + categorical)"],
            step=int(np.argmin(np.asarray(ctx.run.loss))), evidence={"loss_min": float(loss.min())},
            strength=1.0,
        )]
