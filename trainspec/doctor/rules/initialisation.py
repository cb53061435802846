"""``shrinking_activations``: the initial weights shrink the signal through depth."""

from __future__ import annotations

import numpy as np

from trainspec.doctor.evidence import Context, is_output
from trainspec.doctor.rules.base import Rule
from trainspec.doctor.symptoms import Finding, Symptom, finding, past


class ShrinkingActivations(Rule):
    """
    ## What it does
    Compares the spread (std) of the hidden activations at the first step, first hidden layer
    against the last: reports when the last is below ``shrink_ratio`` of the first and the run
    shows harm (the loss does not fall or falls slowly, the accuracy stays at chance).

    ## Why is this bad
    With an initialiser too small for the activation (Glorot under ReLU halves the variance at
    every layer), the signal, and the gradient on the way back, shrink geometrically with depth:
    the deep layers see almost nothing and the network learns slowly or not at all.

    ## Evidence
    The std of the first and last hidden activations at step 0, their ratio and the layer count.

    ## Threshold
    ``shrink_ratio`` = 0.1: He et al., "Delving Deep into Rectifiers" (ICCV 2015), and Glorot &
    Bengio (AISTATS 2010): a good initialisation keeps the variance of the activations from
    layer to layer; a tenfold loss of scale through the stack is far from that.

    ## Fix
    He initialisation (``kernel_initializer="he_normal"``) for ReLU layers, LeCun with SELU,
    Glorot with tanh; or BatchNormalization.
    """

    name = "shrinking_activations"
    symptom = Symptom.SHRINKING_ACTIVATIONS
    thresholds = ("shrink_ratio",)

    def check(self, ctx: Context) -> list[Finding]:
        if not ctx.harm:
            return []
        run = ctx.run
        hidden = [a for a in run.activations.list() if not is_output(run, a) and len(a.std)]
        alive = [a for a in hidden if float(np.asarray(a.std)[0]) > 0]
        if len(alive) < 3:
            return []
        first, last = float(np.asarray(alive[0].std)[0]), float(np.asarray(alive[-1].std)[0])
        ratio = last / first
        if ratio >= ctx.thresholds.shrink_ratio:
            return []
        kinds = sorted({a.activation for a in alive})
        return [finding(
            Symptom.SHRINKING_ACTIVATIONS,
            f"At the first step the activations' spread falls from {first:.3g} in "
            f"{alive[0].name!r} to {last:.3g} in {alive[-1].name!r} ({ratio:.2g}x over "
            f"{len(alive)} {'/'.join(kinds)} layers): the initial weights are too small for the "
            "activation, so the signal and the gradients shrink with depth.",
            ["use He initialisation (kernel_initializer='he_normal') for ReLU layers, LeCun "
             "for SELU, Glorot for tanh", "or add BatchNormalization between the layers"],
            layer=alive[-1].name, step=0,
            evidence={"std_first": first, "std_last": last, "ratio": ratio,
                      "layers": len(alive), "threshold": ctx.thresholds.shrink_ratio},
            strength=past(ratio, ctx.thresholds.shrink_ratio, below=True),
        )]
