"""``dead_units`` and ``saturated_units``: activations stuck where their slope is zero."""

from __future__ import annotations

import numpy as np

from trainspec.constants import ActivationKind
from trainspec.doctor.evidence import Context, is_output, tail_median
from trainspec.doctor.rules.base import Rule
from trainspec.doctor.symptoms import Finding, Symptom, finding


class DeadUnits(Rule):
    """
    ## What it does
    Reports ReLU layers where at least ``dead_fraction`` of the units are inactive on the whole
    batch (median over the last tenth of the run).

    ## Why is this bad
    A unit whose input is always negative has zero gradient and never recovers.

    ## Evidence
    The layers and their fraction of dead units.

    ## Threshold
    ``dead_fraction`` = 0.7 (AUTOTRAINER, Zhang et al., ICSE 2021, "dying ReLU").

    ## Fix
    He initialisation and zero biases, a lower learning rate, LeakyReLU/ELU or
    BatchNormalization before the ReLU.  Units already dead at the first step (before any
    update) are an initialisation problem (family ``initialisation``): fix the initial weights
    or biases, not the learning rate.
    """

    name = "dead_units"
    symptom = Symptom.DEAD_UNITS
    thresholds = ("dead_fraction",)

    def check(self, ctx: Context) -> list[Finding]:
        t = ctx.thresholds
        dead = []
        for a in ctx.run.activations.of_kind(ActivationKind.RELU):
            values = np.asarray(a.dead, dtype=np.float64)
            if len(values) and tail_median(values) >= t.dead_fraction:
                dead.append((a.name, tail_median(values)))
        if not dead:
            return []
        names = {d[0] for d in dead}
        at_start = [float(np.asarray(a.dead)[0]) for a in ctx.run.activations.of_kind(
            ActivationKind.RELU) if a.name in names and len(a.dead)]
        from_init = bool(at_start) and min(at_start) >= t.dead_fraction
        broke = ctx.has(Symptom.NON_FINITE) or ctx.has(Symptom.EXPLODING_GRADIENT)
        worst = max(d[1] for d in dead)
        if from_init:
            text = (f"{len(dead)} ReLU layer(s) have at least {t.dead_fraction:.0%} of their "
                    f"units never active from the very first step (worst {worst:.0%} in "
                    f"{dead[0][0]!r}): the initial weights or biases put every input on the "
                    "negative side, so no gradient ever reaches them.")
            fixes = ["initialise weights symmetrically around zero (He/Glorot) with zero biases",
                     "use LeakyReLU/ELU, or BatchNormalization before the ReLU"]
        else:
            text = (f"{len(dead)} ReLU layer(s) have at least {t.dead_fraction:.0%} of their "
                    f"units never active on a batch (worst {worst:.0%} in {dead[0][0]!r}): a "
                    "unit whose input is always negative has zero gradient and never recovers.")
            fixes = ["use LeakyReLU/ELU, or BatchNormalization before the ReLU",
                     "lower the learning rate", "use He initialisation and zero biases"]
        return [finding(
            Symptom.DEAD_UNITS, text, fixes,
            layer=dead[0][0], step=0 if from_init else None,
            evidence={"layers": [d[0] for d in dead], "dead_fraction": [d[1] for d in dead],
                      "threshold": t.dead_fraction},
            # after a NaN or an explosion the activations say nothing about the cause
            strength=(0.2 if broke else 1.0) * min(
                1.0, (worst - t.dead_fraction) / max(1e-9, 1 - t.dead_fraction)),
            family="initialisation" if from_init else "dead_units",
        )]


class SaturatedUnits(Rule):
    """
    ## What it does
    Reports hidden sigmoid/tanh layers with more than ``saturated_fraction`` of their units in
    the flat tails (|z| > 5 for sigmoid, the same slope for tanh), median over the last tenth.

    ## Why is this bad
    In the tails the slope is near zero, so gradients vanish on the way back.

    ## Evidence
    The layers and their saturated fraction.

    ## Threshold
    ``saturated_fraction`` = 0.5 (AUTOTRAINER; DeepDiagnosis, Wardat et al., ICSE 2022,
    "saturated activation").

    ## Fix
    ReLU-family activations, scaled inputs with Glorot initialisation, BatchNormalization
    before the activation.
    """

    name = "saturated_units"
    symptom = Symptom.SATURATED_UNITS
    thresholds = ("saturated_fraction",)

    def check(self, ctx: Context) -> list[Finding]:
        t, run = ctx.thresholds, ctx.run
        squashing = run.activations.of_kind(ActivationKind.SIGMOID, ActivationKind.TANH)
        sat = []
        for a in squashing:
            if is_output(run, a):
                continue
            values = np.asarray(a.saturated, dtype=np.float64)
            if len(values) and tail_median(values) > t.saturated_fraction:
                sat.append((a.name, tail_median(values)))
        if not sat:
            return []
        return [finding(
            Symptom.SATURATED_UNITS,
            f"{len(sat)} sigmoid/tanh layer(s) have more than {t.saturated_fraction:.0%} of "
            f"their units in the flat tails (worst {max(s[1] for s in sat):.0%} in "
            f"{sat[0][0]!r}), where the slope is near zero and gradients vanish.",
            ["use ReLU-family activations", "scale the inputs and use Glorot initialisation",
             "add BatchNormalization before the activation"],
            layer=sat[0][0], evidence={"layers": [s[0] for s in sat],
                                       "saturated_fraction": [s[1] for s in sat]},
            strength=min(1.0, max(s[1] for s in sat)),
        )]
