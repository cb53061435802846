"""``update_ratio_out_of_range``: steps far smaller or larger than about 1e-3 of the weights."""

from __future__ import annotations

import math

import numpy as np

from trainspec.doctor.evidence import Context, may_raise_rate
from trainspec.doctor.rules.base import Rule
from trainspec.doctor.rules.unchanged import unchanged_layers
from trainspec.doctor.symptoms import Finding, Symptom, finding, past


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
    Too large: a smaller learning rate, clipping.  Too small: a larger learning rate, looser
    clipping, but only when nothing measured argues against it (no oscillation or divergence,
    the rate not above its usual range, no layer with large updates); when vanishing gradients,
    dead units or frozen weights explain the small updates, fix those instead.
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
        collapsed = too_small and ctx.has(Symptom.COLLAPSED_REPRESENTATIONS)
        explained = collapsed or (too_small and any(ctx.has(s) for s in (
            Symptom.VANISHING_GRADIENT, Symptom.DEAD_UNITS, Symptom.UNCHANGED_WEIGHTS,
            Symptom.SATURATED_UNITS, Symptom.LEARNING_RATE_TOO_HIGH)))
        if not too_small:
            fixes = ["lower the learning rate", "clip gradients"]
        elif collapsed:
            fixes = ["fix the collapse found beside this one first: a larger learning rate "
                     "does not undo it"]
        elif explained:
            fixes = ["fix the gradient problem found beside this one first: the updates are small "
                     "because little gradient reaches the layer"]
        elif may_raise_rate(ctx):
            fixes = ["raise the learning rate", "check gradient clipping is not too tight"]
        else:
            fixes = ["check gradient clipping is not too tight", "normalise the inputs or add "
                     "BatchNormalization (the learning rate is not the lever here)"]
        bound = t.update_ratio_low if too_small else t.update_ratio_high
        return [finding(
            Symptom.UPDATE_RATIO_OUT_OF_RANGE,
            f"Each step changes the weights of {worst[0]!r} by {worst[1]:.2g} of their norm, "
            f"{'below' if too_small else 'above'} the healthy range (about 1e-3, within "
            f"[{t.update_ratio_low:g}, {t.update_ratio_high:g}]): "
            + ("the updates are too small to learn in a reasonable number of steps."
               if too_small else "the updates are so large that each step rewrites the layer."),
            fixes,
            layer=worst[0], evidence={"layers": [b[0] for b in bad],
                                      "update_ratio": [b[1] for b in bad],
                                      "range": [t.update_ratio_low, t.update_ratio_high],
                                      "direction": "too small" if too_small else "too large"},
            strength=0.0 if explained else past(worst[1], bound, below=too_small),
        )]
