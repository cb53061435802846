"""``update_ratio_out_of_range``: steps far smaller or larger than about 1e-3 of the weights."""

from __future__ import annotations

import math

import numpy as np

from trainspec.doctor.evidence import Context
from trainspec.doctor.rules.base import Rule
from trainspec.doctor.rules.unchanged import unchanged_layers
from trainspec.doctor.symptoms import Finding, Symptom, finding


class UpdateRatio(Rule):
    """
    ## What it does
    Reports layers whose median update ratio (|update| / |weights| per step) lies outside
    [``update_ratio_low``, ``update_ratio_high``], when an earlier rule showed harm to the loss
    or accuracy, or when it is ``mechanism_margin`` times past a bound.

    ## Why is this bad
    Updates far below 1e-3 of the weights learn nothing in a reasonable number of steps; far
    above, each step rewrites the layer.

    ## Evidence
    The layers and their median update ratio, the healthy range.

    ## Threshold
    ``update_ratio_low`` = 1e-4, ``update_ratio_high`` = 1e-1, ``mechanism_margin`` = 100:
    CS231n (Karpathy), "ratio of weights:updates" about 1e-3.

    ## Fix
    Too small: a larger learning rate, looser clipping.  Too large: a smaller learning rate,
    clipping.
    """

    name = "update_ratio"
    symptom = Symptom.UPDATE_RATIO_OUT_OF_RANGE
    thresholds = ("update_ratio_low", "update_ratio_high", "mechanism_margin")

    def check(self, ctx: Context) -> list[Finding]:
        t = ctx.thresholds
        unchanged = unchanged_layers(ctx)
        bad = []
        for lt in ctx.layers:
            if lt in unchanged:
                continue
            r = np.asarray(lt.update_ratio, dtype=np.float64)[1:]
            if not len(r):
                continue
            med = float(np.median(r))
            low, high = t.update_ratio_low, t.update_ratio_high
            far = med < low / t.mechanism_margin or med > high * t.mechanism_margin
            if (med < low or med > high) and (ctx.harm or far):
                bad.append((lt.name, med))
        if not bad:
            return []
        worst = max(bad, key=lambda b: abs(math.log10(max(b[1], 1e-30)) + 3))
        too_small = worst[1] < t.update_ratio_low
        return [finding(
            Symptom.UPDATE_RATIO_OUT_OF_RANGE,
            f"Each step changes the weights of {worst[0]!r} by {worst[1]:.2g} of their norm "
            f"(healthy: about 1e-3, within [{t.update_ratio_low:g}, {t.update_ratio_high:g}]): "
            + ("the updates are too small to learn in a reasonable number of steps."
               if too_small else "the updates are so large that each step rewrites the layer."),
            ["raise the learning rate" if too_small else "lower the learning rate",
             "check gradient clipping is not too tight" if too_small else "clip gradients"],
            layer=worst[0], evidence={"layers": [b[0] for b in bad],
                                      "update_ratio": [b[1] for b in bad],
                                      "range": [t.update_ratio_low, t.update_ratio_high]},
        )]
