"""``unchanged_weights``: layers whose weights never moved."""

from __future__ import annotations

from typing import Any

import numpy as np

from trainspec.doctor.evidence import Context
from trainspec.doctor.rules.base import Rule
from trainspec.doctor.symptoms import Finding, Symptom, finding


def unchanged_layers(ctx: Context) -> list[Any]:
    """The layer traces whose update ratio never exceeded 1e-12."""
    return [lt for lt in ctx.layers if float(np.max(np.asarray(lt.update_ratio))) <= 1e-12]


class UnchangedWeights(Rule):
    """
    ## What it does
    Reports layers whose weights did not change at any step (update ratio at most 1e-12).

    ## Why is this bad
    No gradient reaches them: a stop_gradient, a layer cut off from the loss, all-zero initial
    weights in a symmetric network, or ReLUs that are never active.

    ## Evidence
    The names of the layers and their largest update ratio (0).

    ## Threshold
    None: 1e-12 is float32 rounding, not a tunable bound.

    ## Fix
    Random initial weights (Glorot/He), every layer connected to the loss, no stop_gradient.
    """

    name = "unchanged_weights"
    symptom = Symptom.UNCHANGED_WEIGHTS

    def check(self, ctx: Context) -> list[Finding]:
        unchanged = unchanged_layers(ctx)
        if not unchanged:
            return []
        names = [lt.name for lt in unchanged]
        return [finding(
            Symptom.UNCHANGED_WEIGHTS,
            f"The weights of {', '.join(repr(n) for n in names)} did not change at any step: no "
            "gradient reaches them (a stop_gradient, a layer cut off from the loss, all-zero "
            "initial weights with a symmetric network, or ReLUs that are never active).",
            ["initialise weights randomly (Glorot/He), never all zeros", "remove "
             "stop_gradient / check every layer is connected to the loss"],
            layer=names[0], evidence={"layers": names, "max_update_ratio": 0.0}, strength=0.5,
        )]
