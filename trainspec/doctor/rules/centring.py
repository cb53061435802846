"""``off_centre_activations``: hidden activations whose mean sits far from zero."""

from __future__ import annotations

import numpy as np

from trainspec.doctor.evidence import Context, is_output
from trainspec.doctor.rules.base import Rule
from trainspec.doctor.symptoms import Finding, Symptom, finding, past

#: How many of their own standard deviations the activations' mean may sit from zero.
OFF_CENTRE = 2.0


class OffCentreActivations(Rule):
    """
    ## What it does
    Reads the hidden activations at the first step: reports the layers whose mean is more than
    two of their standard deviations away from zero, when the run shows harm (the loss does
    not fall or falls slowly, the accuracy stays at chance).

    ## Why is this bad
    When every input of a layer has the same sign, the gradients of all the weights of one unit
    share a sign too: they can only all grow or all shrink, so the weights zig-zag towards the
    minimum and learning is slow.  A logistic sigmoid's outputs all sit near 0.5 with a spread
    of about 0.1 (five deviations off zero); tanh, ReLU (mean about 0.7 of its spread) and
    SELU do not have the problem to that degree.

    ## Evidence
    The layers, their activation and their mean over standard deviation at step 0.

    ## Threshold
    Two standard deviations (``OFF_CENTRE`` in this module): LeCun, Bottou, Orr and Müller,
    "Efficient BackProp" (1998), sections 4.3-4.4: the inputs of every layer should have a mean
    close to zero compared with their spread, which is why symmetric sigmoids (tanh) converge
    faster than the logistic.  Needs harm in the run: a sigmoid network that trains well is not
    reported.

    ## Fix
    A zero-centred activation (ReLU family with He initialisation, or tanh), or
    BatchNormalization before the activation.
    """

    name = "off_centre_activations"
    symptom = Symptom.OFF_CENTRE_ACTIVATIONS

    def check(self, ctx: Context) -> list[Finding]:
        if not ctx.harm:
            return []
        run = ctx.run
        off = []
        for a in run.activations.list():
            if is_output(run, a) or not len(a.mean) or not len(a.std):
                continue
            mean, std = float(np.asarray(a.mean)[0]), float(np.asarray(a.std)[0])
            if std > 0 and abs(mean) / std > OFF_CENTRE:
                off.append((a.name, a.activation, abs(mean) / std))
        if not off:
            return []
        worst = max(off, key=lambda o: o[2])
        kinds = "/".join(sorted({o[1] for o in off}))
        return [finding(
            Symptom.OFF_CENTRE_ACTIVATIONS,
            f"At the first step the {kinds} activations of {len(off)} hidden layer(s) sit "
            f"{worst[2]:.2g} standard deviations away from zero (worst {worst[0]!r}): every "
            "input of the next layer has the same sign, so its weights can only move together "
            "and zig-zag towards the minimum, and training is slow.",
            ["use a zero-centred activation: ReLU with He initialisation, or tanh",
             "or add BatchNormalization before the activation"],
            layer=worst[0], step=0,
            evidence={"layers": [o[0] for o in off], "activation": [o[1] for o in off],
                      "mean_over_std": [o[2] for o in off], "threshold": OFF_CENTRE},
            # a slower optimisation, not a broken one: never above a broken mechanism's score
            strength=0.5 * past(worst[2], OFF_CENTRE),
        )]
