"""``unchanged_weights``: weights that never moved: trainable layers whose updates were zero,
variables that received no gradient, and layers frozen with the random values they were
initialised with.

Example:
    >>> from trainspec.doctor.rules.unchanged import UnchangedWeights
    >>> UnchangedWeights().check(Context.of(run, recipe, Thresholds()))   # doctest: +SKIP
    []
"""

from __future__ import annotations

from typing import Any

import numpy as np

from trainspec.doctor.evidence import Context
from trainspec.doctor.rules.base import Rule
from trainspec.doctor.symptoms import Finding, Symptom, finding

#: Findings of earlier rules that mean the loss did not fall as training should.
_NOT_LEARNING = (Symptom.LOSS_NOT_DECREASING, Symptom.SLOW_CONVERGENCE, Symptom.ACCURACY_AT_CHANCE)


def unchanged_layers(ctx: Context) -> list[Any]:
    """The trainable layer traces whose update ratio never exceeded 1e-12 (those with variables
    that got no gradient are reported as such instead)."""
    return [lt for lt in ctx.layers if float(np.max(np.asarray(lt.update_ratio))) <= 1e-12
            and not lt.no_gradient]


def not_learning(ctx: Context) -> bool:
    """Whether an earlier rule found that the loss (or accuracy) did not improve."""
    return ctx.harm or any(ctx.has(s) for s in _NOT_LEARNING)


def frozen_at_init(ctx: Context) -> list[Any]:
    """Frozen layers whose weights were their initializers' fresh random draw (not pretrained)
    and did not move."""
    return [lt for lt in ctx.run.layers.frozen() if lt.at_initializer is True and not lt.moved]


class UnchangedWeights(Rule):
    """
    ## What it does
    Reports weights that never moved: trainable layers whose update ratio stayed at most 1e-12;
    variables that received no gradient (``None``: cut off from the loss) at any step; and,
    when the loss does not fall, frozen layers (``trainable=False``) that still hold the random
    values their initializers drew.  A frozen layer is told from a pretrained one by its
    weights: a random initializer's spread and zero (or constant) biases mean freshly
    initialised, anything else loaded or trained (``trainspec.freshness``).  A frozen pretrained
    layer (transfer learning) is never reported, nor is a frozen layer in a run that learns.

    ## Why is this bad
    No gradient reaches them or nothing applies it: a stop_gradient, a branch the output does
    not use, all-zero initial weights in a symmetric network, ReLUs that are never active, or a
    layer frozen by mistake that keeps noise for weights while the rest trains around it.

    ## Evidence
    The names of the layers (and of the variables without a gradient) and their largest update
    ratio (0).

    ## Threshold
    None: 1e-12 is float32 rounding and "no gradient" is structural, not a tunable bound.

    ## Fix
    Random initial weights (Glorot/He), every layer connected to the loss, no stop_gradient;
    ``layer.trainable = True`` for a layer frozen by mistake (freeze only pretrained layers).
    """

    name = "unchanged_weights"
    symptom = Symptom.UNCHANGED_WEIGHTS

    def check(self, ctx: Context) -> list[Finding]:
        found: list[Finding] = []
        harmed = not_learning(ctx)
        cut = ctx.run.layers.no_gradient()
        if cut:
            variables = [v for lt in cut for v in lt.no_gradient]
            found.append(finding(
                Symptom.UNCHANGED_WEIGHTS,
                f"{len(variables)} variable(s) received no gradient at any step "
                f"({', '.join(repr(v) for v in variables[:6])}"
                f"{' ...' if len(variables) > 6 else ''}): they are cut off from the loss "
                "(a branch the output does not use, a stop_gradient, an integer cast) and never "
                "train" + ("; the loss did not fall" if harmed else "") + ".",
                ["connect every layer to the loss, or remove the unused variables",
                 "remove stop_gradient / casts to integers on the path to the output"],
                layer=cut[0].name, evidence={"layers": [lt.name for lt in cut],
                                             "variables": variables, "max_update_ratio": 0.0},
                strength=1.0 if harmed else 0.5,
            ))
        frozen = frozen_at_init(ctx) if harmed else []
        if frozen:
            names = [lt.name for lt in frozen]
            count = int(sum(lt.n_params for lt in frozen))
            found.append(finding(
                Symptom.UNCHANGED_WEIGHTS,
                f"{len(frozen)} layer(s) are frozen with the random weights they were "
                f"initialised with ({', '.join(repr(n) for n in names)}, {count} weights; read "
                "before and after the run, they did not move) and the loss did not fall: the "
                "rest of the network trains around fixed noise. A pretrained layer frozen on "
                "purpose would hold loaded weights, not a fresh random draw.",
                ["unfreeze them (layer.trainable = True), or load the pretrained weights "
                 "before freezing"],
                layer=names[0], evidence={"frozen_layers": names, "weights": count,
                                          "max_update_ratio": 0.0},
                strength=0.9,
            ))
        unchanged = unchanged_layers(ctx)
        if unchanged:
            names = [lt.name for lt in unchanged]
            found.append(finding(
                Symptom.UNCHANGED_WEIGHTS,
                f"The weights of {', '.join(repr(n) for n in names)} did not change at any step: "
                "no gradient reaches them (a stop_gradient, a layer cut off from the loss, "
                "all-zero initial weights with a symmetric network, or ReLUs that are never "
                "active).",
                ["initialise weights randomly (Glorot/He), never all zeros", "remove "
                 "stop_gradient / check every layer is connected to the loss"],
                layer=names[0], evidence={"layers": names, "max_update_ratio": 0.0}, strength=0.5,
            ))
        return found
