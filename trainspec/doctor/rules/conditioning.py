"""``ill_conditioned``: plain SGD still crawling along a ravine when the run ends."""

from __future__ import annotations

import numpy as np

from trainspec.doctor.evidence import (
    Context,
    accuracy_learned,
    labels_chance,
    optimizer_and_rate,
    still_falling,
)
from trainspec.doctor.rules.base import Rule
from trainspec.doctor.symptoms import Finding, Symptom, finding, past


def plain_sgd(recipe: object) -> bool:
    """Whether the recipe trains with SGD without momentum (by name, a dict or an instance)."""
    name, _ = optimizer_and_rate(recipe)
    if name != "sgd":
        return False
    opt = recipe.optimizer  # type: ignore[attr-defined]
    if isinstance(opt, dict):
        return not opt.get("momentum") and not opt.get("nesterov")
    momentum = getattr(opt, "momentum", 0.0)
    return isinstance(opt, str) or not float(momentum or 0.0)


def feature_scales(recipe: object) -> tuple[float, float] | None:
    """The smallest and largest standard deviation of the training inputs' features (features
    that vary at all), or None when the inputs are not one float array."""
    try:
        x = np.asarray(recipe.split()[0][0])  # type: ignore[attr-defined]
    except Exception:
        return None
    if x.dtype == object or not np.issubdtype(x.dtype, np.number) or x.ndim < 2 or not len(x):
        return None
    std = x.reshape(len(x), -1)[:4096].astype(np.float64).std(axis=0)
    std = std[std > 1e-6 * std.max()] if std.size and std.max() > 0 else std[:0]
    return (float(std.min()), float(std.max())) if len(std) else None


def learned(ctx: Context) -> bool:
    """Whether a recorded accuracy got more than half of the way from chance to 1 (chance from
    the labels when the run does not know its class count, e.g. a custom loss)."""
    return accuracy_learned(ctx, labels_chance(ctx.run, ctx.recipe))


class IllConditioned(Rule):
    """
    ## What it does
    Reports a run trained with plain SGD (no momentum) whose input features differ in scale by
    ``feature_scale_ratio`` or more and whose loss is still falling steadily when the run ends
    (a downward trend beyond two standard errors over the last half, which fell by at least a
    tenth), when nothing else explains the slow progress (no ``slow_convergence`` or
    ``loss_not_decreasing``, and no recorded accuracy that already learned).

    ## Why is this bad
    Features of scales s1 and s2 give the loss a curvature (s1/s2)^2 times larger in one
    direction than in the other: a ravine.  The learning rate is capped by the steep side (above
    2 / the largest curvature it diverges), so along the flat side each step does (s1/s2)^2
    times too little: the loss drops fast at first, then crawls, and the run ends far from the
    bottom although the learning rate is as large as it can be.

    ## Evidence
    The smallest and largest feature scale and their ratio, the loss at the middle and the end.

    ## Threshold
    ``feature_scale_ratio`` = 5 (curvatures 25x apart): LeCun, Bottou, Orr and Müller,
    "Efficient BackProp" (1998), sections 4.3 and 5: inputs should be scaled so that their
    covariances are about the same, since the spread of the Hessian's eigenvalues (the squared
    scale ratio) decides how slowly gradient descent converges; 5 rather than 10 so that a
    problem built 10x apart is not missed when its sample's scales come out 9.9x apart (the
    curriculum's ravine: 10.2x).  Goodfellow, Bengio and Courville, *Deep Learning* (2016),
    8.3.2: momentum is designed for "high curvature, small but consistent gradients", the
    ravine of their figure 8.5.  Raw pixels differ in scale far more than 10x, so the rule also
    needs the run to show it: a classifier whose accuracy learned is not reported.

    ## Fix
    SGD with momentum 0.9 (or Adam) at the same learning rate; or standardise the inputs.
    Never a lower learning rate: the steep side already caps it.
    """

    name = "ill_conditioned"
    symptom = Symptom.ILL_CONDITIONED
    thresholds = ("feature_scale_ratio",)

    def check(self, ctx: Context) -> list[Finding]:
        curve, recipe = ctx.curve, ctx.recipe
        if curve is None or recipe is None or not plain_sgd(recipe):
            return []
        if ctx.found or learned(ctx):
            return []  # another rule names the trouble, or the model learned
        scales = feature_scales(recipe)
        if scales is None or scales[0] <= 0:
            return []
        ratio = scales[1] / scales[0]
        if ratio < ctx.thresholds.feature_scale_ratio:
            return []
        n = len(curve.loss)
        half = curve.loss[n // 2:]
        mid = float(np.median(curve.loss[n // 2 - curve.window // 2: n // 2 + curve.window // 2
                                         + 1]))
        if not (still_falling(half) and mid > 0 and curve.end <= 0.9 * mid):
            return []
        return [finding(
            Symptom.ILL_CONDITIONED,
            f"The input features' scales range from {scales[0]:.3g} to {scales[1]:.3g} "
            f"({ratio:.0f}x) and the loss is still falling steadily when the run ends ("
            f"{mid:.3g} at mid-run, {curve.end:.3g} at the end): a ravine. The learning rate "
            "is capped by the steep direction, so plain SGD crawls along the flat one.",
            ["use SGD with momentum 0.9 (or Adam) at the same learning rate",
             "standardise the inputs (each feature to mean 0, std 1)"],
            evidence={"feature_std_min": scales[0], "feature_std_max": scales[1],
                      "ratio": ratio, "loss_mid": mid, "loss_end": curve.end,
                      "threshold": ctx.thresholds.feature_scale_ratio},
            strength=past(ratio, ctx.thresholds.feature_scale_ratio),
        )]
