"""Static checks of the built model's weights, widths and trainability, of the labels against
the output layer, and of the training inputs against the validation inputs (added with the
ranking, issue 12): symmetric initialisation, output mismatch, preprocessing mismatch, frozen
variables, a bottleneck layer.

Example:
    >>> SymmetricInitialisation().check(RecipeView.of(recipe, Thresholds()))  # doctest: +SKIP
    []
"""

from __future__ import annotations

from typing import Any

import numpy as np

from trainspec.doctor.recipe_view import NORMALISING, RecipeView, StaticCheck
from trainspec.doctor.symptoms import Finding, Symptom, finding, past
from trainspec.freshness import at_initializer


def _kernel(layer: Any) -> np.ndarray | None:
    kernel = getattr(layer, "kernel", None)
    if kernel is None:
        return None
    try:
        value = np.asarray(kernel.numpy() if hasattr(kernel, "numpy") else kernel)
    except Exception:
        return None
    return value if value.ndim == 2 else None


def _units(layer: Any) -> int | None:
    units = getattr(layer, "units", None)
    return int(units) if isinstance(units, int) else None


class SymmetricInitialisation(StaticCheck):
    """
    ## What it does
    Reads the initial weights of consecutive Dense layers: reports a hidden layer whose units
    all have the same incoming weights (identical kernel columns) and the same outgoing weights
    (identical rows of the next kernel), as all-zero or constant initialisers give.

    ## Why is this bad
    Identical units compute the same output and receive the same gradient, so they stay
    identical forever: the layer has the capacity of a single unit (Goodfellow, Bengio and
    Courville, *Deep Learning*, 2016, section 8.4: "break symmetry").

    ## Evidence
    The layer, its unit count and the spread of its initial kernel (0).

    ## Threshold
    None: exact equality of the initial weights (an error, not a risk).

    ## Fix
    A random initialiser (Glorot/He, the Keras default); constants only for biases.
    """

    name = "symmetric_initialisation"
    symptoms = (Symptom.SYMMETRIC_INITIALISATION,)

    def check(self, view: RecipeView) -> list[Finding]:
        dense = [(la, _kernel(la)) for la in view.leaves if type(la).__name__ == "Dense"]
        for (layer, kernel), (_, following) in zip(dense, dense[1:], strict=False):
            if kernel is None or following is None or kernel.shape[1] < 2:
                continue
            same_in = np.ptp(kernel, axis=1).max() == 0
            same_out = following.shape[0] == kernel.shape[1] and np.ptp(following, axis=0).max() == 0
            if same_in and same_out:
                return [finding(
                    Symptom.SYMMETRIC_INITIALISATION,
                    f"The {kernel.shape[1]} units of {layer.name!r} start with identical incoming "
                    "and outgoing weights: they compute the same value and receive the same "
                    "gradient at every step, so they never become different.",
                    ["use a random kernel initialiser (glorot_uniform, he_normal), never zeros "
                     "or a constant"],
                    layer=layer.name, evidence={"units": int(kernel.shape[1]),
                                                "kernel_spread": float(np.ptp(kernel))},
                    strength=1.0,
                )]
        return []


def label_info(y: np.ndarray) -> tuple[str, int]:
    """("sparse" | "one_hot" | "multi_label" | "other", number of classes)."""
    if y.ndim >= 2 and y.shape[-1] > 1:
        rows = y.reshape(-1, y.shape[-1])
        binary = np.isin(rows, (0, 1)).all()
        if binary and (rows.sum(-1) == 1).all():
            return "one_hot", int(y.shape[-1])
        if binary and (rows.sum(-1) > 1).any():
            return "multi_label", int(y.shape[-1])
        return "other", int(y.shape[-1])
    flat = y.reshape(-1)
    if np.issubdtype(flat.dtype, np.integer) or (flat.size and np.all(flat == np.round(flat))):
        return "sparse", int(flat.max()) + 1 if flat.size else 0
    return "other", 0


class OutputMismatch(StaticCheck):
    """
    ## What it does
    Compares the output layer with the labels and the loss: multi-label targets (several 1s a
    row) through a softmax, or a classifier with fewer output units than the labels' classes.

    ## Why is this bad
    A softmax makes the outputs compete and sum to one, so it cannot say "both"; an output with
    fewer units than classes has no unit for the missing classes (their loss is undefined or
    NaN).  Both are real bugs (Humbatova et al., "Taxonomy of Real Faults in Deep Learning
    Systems", ICSE 2020: wrong activation of the last layer, wrong output shape).

    ## Evidence
    The output activation and units, the label kind and the number of classes.

    ## Threshold
    None (an error).

    ## Fix
    Sigmoid outputs with binary cross-entropy for multi-label targets; one output unit per class.
    """

    name = "output_mismatch"
    symptoms = (Symptom.OUTPUT_MISMATCH,)

    def check(self, view: RecipeView) -> list[Finding]:
        from trainspec.engine import probes

        if view.model is None or not view.leaves:
            return []
        y = np.asarray(view.recipe.data[1])
        kind, classes = label_info(y)
        out_act = probes.output_activation(view.model)
        units = _units(view.leaves[-1])
        if kind == "multi_label" and out_act == "softmax":
            return [finding(
                Symptom.OUTPUT_MISMATCH,
                "The labels are multi-label (several classes set in one row) but the output is a "
                "softmax, whose outputs compete and sum to one: it cannot predict two classes.",
                ["use activation='sigmoid' on the output with binary_crossentropy"],
                layer=view.output_name, evidence={"labels": kind, "output_activation": out_act},
                strength=1.0,
            )]
        loss = view.recipe.loss if isinstance(view.recipe.loss, str) else ""
        classifier = "crossentropy" in loss.lower() and "binary" not in loss.lower()
        if classifier and kind == "sparse" and units is not None and 1 < units < classes:
            return [finding(
                Symptom.OUTPUT_MISMATCH,
                f"The labels have {classes} classes but the output layer has {units} units: "
                "the classes beyond them have no output to be scored against.",
                [f"give the output layer {classes} units"],
                layer=view.output_name, evidence={"classes": classes, "output_units": units},
                strength=1.0,
            )]
        return []


class PreprocessingMismatch(StaticCheck):
    """
    ## What it does
    Compares the training inputs with the validation inputs: their overall spread (std) differs
    by more than ``skew_factor`` times, or their means by more than one validation std.

    ## Why is this bad
    The model is fitted on inputs unlike the ones it is judged on (noise or augmentation only on
    one side, a scaling forgotten on one side): whatever it learns does not carry over.

    ## Evidence
    The mean and std of both input sets.

    ## Threshold
    ``skew_factor`` = 3: Zinkevich, "Rules of Machine Learning" (Google, rule 37, "measure
    training/serving skew"); one preprocessing should produce both sets, whose statistics then
    agree within sampling noise, far within 3x.

    ## Fix
    Apply the same preprocessing (scaling, normalisation, no added noise) to both sets.
    """

    name = "preprocessing_mismatch"
    symptoms = (Symptom.PREPROCESSING_MISMATCH,)
    thresholds = ("skew_factor",)

    def check(self, view: RecipeView) -> list[Finding]:
        val = getattr(view.recipe, "validation_data", None)
        if val is None:
            return []
        xt = np.asarray(view.x, dtype=np.float64)
        xv = np.asarray(val[0], dtype=np.float64)
        if not xt.size or not xv.size or xt.shape[1:] != xv.shape[1:]:
            return []
        mt, st, mv, sv = float(xt.mean()), float(xt.std()), float(xv.mean()), float(xv.std())
        if st <= 0 or sv <= 0:
            return []
        factor = max(st / sv, sv / st)
        shift = abs(mt - mv) / sv
        limit = view.thresholds.skew_factor
        if factor <= limit and shift <= 1.0:
            return []
        return [finding(
            Symptom.PREPROCESSING_MISMATCH,
            f"The training inputs (mean {mt:.3g}, std {st:.3g}) do not look like the validation "
            f"inputs (mean {mv:.3g}, std {sv:.3g}): the model is fitted on data unlike what it "
            "is judged on (noise, augmentation or a scaling applied to one side only).",
            ["apply the same preprocessing to training and validation inputs",
             "remove noise/corruption that only the training inputs receive"],
            evidence={"train_mean": mt, "train_std": st, "val_mean": mv, "val_std": sv,
                      "std_factor": factor, "threshold": limit},
            strength=past(max(factor, shift * limit), limit),
        )]


class FrozenVariables(StaticCheck):
    """
    ## What it does
    Reports weighted layers set ``trainable=False`` (their variables never receive an update)
    whose weights are still their initializers' fresh draw.  A frozen layer holding loaded or
    trained weights (a pretrained base frozen on purpose, as in transfer learning) is not
    reported: its weights are not what its initializers give (``trainspec.freshness``: biases
    off their constant, kernels off the initializer's spread).

    ## Why is this bad
    A frozen layer keeps its initial (often random) weights: if it is not a pretrained layer
    frozen on purpose, the network trains around noise.  A risk: reported beside a run only when
    the run shows harm (the run's ``unchanged_weights`` rule names them when the loss does not
    fall).

    ## Evidence
    The frozen layers and their number of weights.

    ## Threshold
    None: the freshness test allows a random initializer's sampling noise (4 standard errors of
    the standard deviation, plus 10%).

    ## Fix
    ``layer.trainable = True`` (unfreeze), or freeze only pretrained layers.
    """

    name = "frozen_variables"
    symptoms = (Symptom.FROZEN_VARIABLES,)

    def check(self, view: RecipeView) -> list[Finding]:
        frozen = [la for la in view.leaves if la.weights and not la.trainable
                  and type(la).__name__ not in NORMALISING and at_initializer(la) is not False]
        if not frozen:
            return []
        count = int(sum(int(np.prod(w.shape)) for la in frozen for w in la.weights))
        return [finding(
            Symptom.FROZEN_VARIABLES,
            f"{len(frozen)} layer(s) are frozen (trainable=False: "
            f"{', '.join(repr(la.name) for la in frozen)}, {count} weights): they keep their "
            "initial values for the whole run.",
            ["unfreeze them (layer.trainable = True) unless they hold pretrained weights"],
            layer=frozen[0].name, evidence={"layers": [la.name for la in frozen], "weights": count},
            strength=0.8,
        )]


class Bottleneck(StaticCheck):
    """
    ## What it does
    Reports a hidden Dense layer with fewer units than the output layer of a classifier with
    three or more classes.

    ## Why is this bad
    Every logit is a function of that layer's few units: with k < C units the logits live in a
    k-dimensional subspace, so some classes cannot be separated (the "softmax bottleneck",
    Yang et al., ICLR 2018).  A risk: reported beside a run only when the run shows harm.

    ## Evidence
    The layer, its units and the output units.

    ## Threshold
    None: fewer units than classes.

    ## Fix
    Widen the layer to at least the number of classes (usually far more).
    """

    name = "bottleneck"
    symptoms = (Symptom.BOTTLENECK,)

    def check(self, view: RecipeView) -> list[Finding]:
        dense = [la for la in view.leaves if type(la).__name__ == "Dense" and _units(la)]
        if len(dense) < 2:
            return []
        out_units = _units(dense[-1]) or 0
        if out_units < 3:
            return []
        narrow = [la for la in dense[:-1] if (_units(la) or 0) < out_units]
        if not narrow:
            return []
        layer = min(narrow, key=lambda la: _units(la) or 0)
        units = _units(layer) or 0
        return [finding(
            Symptom.BOTTLENECK,
            f"Layer {layer.name!r} has {units} units but the output has {out_units}: every "
            f"logit is computed from those {units} numbers, so not all classes can be told apart.",
            [f"widen {layer.name!r} to at least {out_units} units"],
            layer=layer.name, evidence={"units": units, "output_units": out_units},
            strength=past(out_units / max(units, 1), 1.0),
        )]
