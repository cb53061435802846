"""Static checks of the loss against the labels and the output layer (issue 12): a regression
loss (squared or absolute error) on a classifier's outputs, with targets outside the output's
range (an error) or on class labels the output can reach (a risk).

Example:
    >>> LossOnClasses().check(RecipeView.of(recipe, Thresholds()))  # doctest: +SKIP
    []
"""

from __future__ import annotations

from typing import Any

import numpy as np

from trainspec.doctor.model_checks import label_info
from trainspec.doctor.recipe_view import RecipeView, StaticCheck
from trainspec.doctor.symptoms import Finding, Symptom, finding

#: Regression losses, by Keras name or class name (lower case, no underscores).
REGRESSION_LOSSES = frozenset({
    "mse", "meansquarederror", "mae", "meanabsoluteerror", "msle", "meansquaredlogarithmicerror",
    "mape", "meanabsolutepercentageerror", "huber", "logcosh",
})
#: The range of each probability-like output activation.
OUTPUT_RANGE = {"softmax": (0.0, 1.0), "sigmoid": (0.0, 1.0)}


def loss_name(loss: Any) -> str:
    """The loss's name, lower case without underscores (``"meansquarederror"``), or ``""``."""
    if isinstance(loss, str):
        return loss.lower().replace("_", "")
    if loss is None:
        return ""
    name = getattr(loss, "name", None) or type(loss).__name__
    if callable(loss) and not hasattr(loss, "get_config"):
        name = getattr(loss, "__name__", name)
    return str(name).lower().replace("_", "")


class LossOnClasses(StaticCheck):
    """
    ## What it does
    Reports a regression loss (squared, absolute, Huber... error) between a softmax or sigmoid
    output and the labels: as ``output_mismatch`` when the targets lie outside the output's
    range (class numbers 0-9 against probabilities in [0, 1]), as
    ``regression_loss_on_classes`` when they are class labels the output can reach (one-hot).

    ## Why is this bad
    Targets outside the output's range can never be met: each probability is pulled towards
    the class's number, and the best the model can do is a constant.  On one-hot labels a
    squared error through a softmax has gradients that vanish when the output is confidently
    wrong, so it learns far more slowly than cross-entropy (Golik, Doetsch and Ney,
    "Cross-Entropy vs. Squared Error Training: a Theoretical and Experimental Comparison",
    Interspeech 2013); a risk, reported beside a run only when the run shows harm.  Both are
    "wrong loss function" faults of Humbatova et al., ICSE 2020.

    ## Evidence
    The loss, the output activation, the label kind and the targets' range.

    ## Threshold
    None: the output activation's range ([0, 1] for softmax and sigmoid).

    ## Fix
    Cross-entropy: ``sparse_categorical_crossentropy`` for integer class labels,
    ``categorical_crossentropy`` for one-hot labels, ``binary_crossentropy`` for multi-label.
    """

    name = "loss_on_classes"
    symptoms = (Symptom.OUTPUT_MISMATCH, Symptom.REGRESSION_LOSS_ON_CLASSES)

    def check(self, view: RecipeView) -> list[Finding]:
        from trainspec.engine import probes

        recipe = view.recipe
        if view.model is None or recipe.train_step is not None:
            return []
        name = loss_name(recipe.loss)
        out_act = probes.output_activation(view.model)
        if name not in REGRESSION_LOSSES or out_act not in OUTPUT_RANGE:
            return []
        y = np.asarray(recipe.data[1])
        if not y.size or not np.issubdtype(y.dtype, np.number):
            return []
        kind, classes = label_info(y)
        low, high = OUTPUT_RANGE[out_act]
        y_min, y_max = float(y.min()), float(y.max())
        right = ("sparse_categorical_crossentropy" if kind == "sparse" else
                 "binary_crossentropy" if kind == "multi_label" else "categorical_crossentropy")
        evidence = {"loss": str(recipe.loss if isinstance(recipe.loss, str) else name),
                    "output_activation": out_act, "labels": kind, "target_min": y_min,
                    "target_max": y_max}
        if y_min < low or y_max > high:
            return [finding(
                Symptom.OUTPUT_MISMATCH,
                f"The loss compares the {out_act} output, whose values lie in [{low:g}, "
                f"{high:g}], with targets from {y_min:g} to {y_max:g}: they can never be met, "
                "each output is pulled towards a number it cannot reach, and the best the model "
                "can do is a constant.",
                [f"use loss='{right}' for these {kind} labels" if kind in ("sparse", "one_hot")
                 else "scale the targets into the output's range, or use a linear output",
                 "keep the output activation and the loss consistent"],
                layer=view.output_name, evidence=evidence, strength=1.0,
            )]
        if kind not in ("sparse", "one_hot", "multi_label") or classes < 2:
            return []
        return [finding(
            Symptom.REGRESSION_LOSS_ON_CLASSES,
            f"A {evidence['loss']} loss on {kind} class labels through a {out_act}: its "
            "gradient fades when the output is confidently wrong, so it learns far more slowly "
            "than cross-entropy.",
            [f"use loss='{right}'"],
            layer=view.output_name, evidence=evidence, strength=0.5,
        )]
