"""The doctor's checks of a recipe before training: the output activation against the loss, a
stack of layers with no non-linearity, dropout above 0.5, inputs far outside [-1, 1] or not floats.

Each check is a small class in the rule shape (see :mod:`trainspec.doctor.rules.base`) reading a
:class:`~trainspec.doctor.recipe_view.RecipeView` (the recipe, its freshly built model, its leaf
layers, the inputs); the checks of weights, labels and validation inputs are in
:mod:`trainspec.doctor.model_checks`;
:func:`check_recipe` builds the view once and runs them all.  Building the model imports
TensorFlow; importing this module does not.

Example:
    >>> [str(f.symptom) for f in check_recipe(recipe)]    # doctest: +SKIP
    ['probabilities_as_logits']
"""

from __future__ import annotations

import inspect
from typing import Any

import numpy as np

from trainspec.doctor.loss_checks import LossOnClasses
from trainspec.doctor.model_checks import (
    Bottleneck,
    FrozenVariables,
    OutputMismatch,
    PreprocessingMismatch,
    SymmetricInitialisation,
)
from trainspec.doctor.recipe_view import (
    LINEAR_LAYERS,
    NORMALISING,
    TAKES_IDS,
    WEIGHTED,
    RecipeView,
    StaticCheck,
)
from trainspec.doctor.symptoms import Finding, Symptom, finding
from trainspec.doctor.thresholds import Thresholds, project_thresholds


def _source(fn: Any) -> str:
    try:
        return inspect.getsource(fn)
    except (OSError, TypeError):
        return ""


def expects_logits(recipe: Any, model: Any) -> tuple[bool | None, str]:
    """Whether the recipe's loss expects logits (True), probabilities (False) or unknown (None),
    with the words naming the loss."""
    if recipe.train_step is not None:
        code = _source(recipe.train_step)
        if "with_logits" in code or "from_logits=True" in code.replace(" ", ""):
            return True, "the custom train_step"
        if "from_logits=False" in code.replace(" ", ""):
            return False, "the custom train_step"
        return None, ""
    loss = recipe.loss if recipe.loss is not None else getattr(model, "loss", None)
    if isinstance(loss, str):
        if "crossentropy" in loss.lower() or loss.lower() == "bce":
            return False, f"loss {loss!r} (from_logits=False)"
        return None, ""
    get_config = getattr(loss, "get_config", None)
    if callable(get_config):
        try:
            config = get_config()
        except Exception:
            config = {}
        if "from_logits" in config:
            name = type(loss).__name__
            return bool(config["from_logits"]), f"{name}(from_logits={config['from_logits']})"
    code = _source(loss) if callable(loss) else ""
    if code and ("with_logits" in code or "from_logits=True" in code.replace(" ", "")):
        return True, f"the loss function {getattr(loss, '__name__', 'loss')}"
    return None, ""


class OutputVsLoss(StaticCheck):
    """
    ## What it does
    Compares the model's output activation with what the loss expects: softmax/sigmoid outputs
    fed to a loss that takes logits, or linear outputs fed to a loss that takes probabilities.

    ## Why is this bad
    Probabilities used as logits are squashed twice: the loss cannot fall below
    log(1 + (C-1)/e) and the gradients shrink.  Logits used as probabilities are clipped and
    renormalised by Keras, so the loss is wrong and training stalls.

    ## Evidence
    The output activation and the loss (its ``from_logits``, or the custom train_step's code).

    ## Threshold
    None: a mismatch is an error (the course's Fail5; the TensorFlow documentation of
    ``sparse_softmax_cross_entropy_with_logits``: "Do not call this op with the output of softmax").

    ## Fix
    Keep the activation and the loss consistent: logits with ``from_logits=True``, probabilities
    with ``from_logits=False``.
    """

    name = "output_vs_loss"
    symptoms = (Symptom.PROBABILITIES_AS_LOGITS, Symptom.LOGITS_AS_PROBABILITIES)

    def check(self, view: RecipeView) -> list[Finding]:
        from trainspec.engine import probes

        if view.model is None:
            return []
        out_act = probes.output_activation(view.model)
        expects, what = expects_logits(view.recipe, view.model)
        if expects is True and out_act in ("softmax", "sigmoid"):
            return [finding(
                Symptom.PROBABILITIES_AS_LOGITS,
                f"The model ends in a {out_act} but {what} expects logits and applies "
                f"{out_act} again: the predictions are squashed twice, the loss cannot fall "
                "below log(1 + (C-1)/e) and the gradients shrink.",
                ["remove the output activation and keep the logits loss", f"or keep the "
                 f"{out_act} and use from_logits=False"],
                layer=view.output_name, evidence={"output_activation": out_act, "loss": what},
                strength=1.0,
            )]
        if expects is False and out_act == "linear" and view.recipe.train_step is None:
            return [finding(
                Symptom.LOGITS_AS_PROBABILITIES,
                f"The model's output is linear (logits) but {what} expects probabilities: "
                "Keras clips and renormalises the raw outputs, so the loss is wrong and "
                "training stalls.",
                ["use from_logits=True (e.g. keras.losses.SparseCategoricalCrossentropy("
                 "from_logits=True))", "or add activation='softmax' to the output layer"],
                layer=view.output_name, evidence={"output_activation": out_act, "loss": what},
                strength=1.0,
            )]
        return []


class LinearModel(StaticCheck):
    """
    ## What it does
    Reports a model with two or more weighted layers and no non-linearity between them.

    ## Why is this bad
    A product of linear maps is one linear map: the depth adds nothing and the model can only
    draw linear boundaries.

    ## Evidence
    The number of weighted layers.

    ## Threshold
    None (an error, not a risk).

    ## Fix
    ``activation='relu'`` (or another non-linearity) on the hidden layers.
    """

    name = "linear_model"
    symptoms = (Symptom.LINEAR_MODEL,)

    def check(self, view: RecipeView) -> list[Finding]:
        from trainspec.engine import probes

        if view.model is None:
            return []
        weighted = [la for la in view.leaves if type(la).__name__ in WEIGHTED]
        for layer in view.leaves[:-1]:
            kind = type(layer).__name__
            act = probes.layer_activation(layer)
            if act not in (None, "linear") or kind not in LINEAR_LAYERS or kind == "Lambda":
                return []
        if len(weighted) < 2:
            return []
        return [finding(
            Symptom.LINEAR_MODEL,
            f"The model stacks {len(weighted)} weighted layers with no non-linearity "
            "between them: a product of linear maps is one linear map, so the depth adds "
            "nothing and the model can only draw linear boundaries.",
            ["add activation='relu' to the hidden layers"],
            layer=weighted[0].name, evidence={"weighted_layers": len(weighted)}, strength=1.0,
        )]


class ExcessiveDropout(StaticCheck):
    """
    ## What it does
    Reports dropout layers whose rate exceeds ``max_dropout``.

    ## Why is this bad
    The signal and the gradient are mostly noise and the network underfits.  A risk, not an
    error: beside a run it is reported only when the run shows harm.

    ## Evidence
    The layer and its rate.

    ## Threshold
    ``max_dropout`` = 0.5: Srivastava et al., JMLR 2014 ("Dropout"), retain probability 0.5 for
    hidden units, 0.8 for inputs.

    ## Fix
    A rate of at most 0.5 (0.2-0.5 is usual).
    """

    name = "excessive_dropout"
    symptoms = (Symptom.EXCESSIVE_DROPOUT,)
    thresholds = ("max_dropout",)

    def check(self, view: RecipeView) -> list[Finding]:
        limit = view.thresholds.max_dropout
        out = []
        for layer in view.leaves:
            rate = getattr(layer, "rate", None)
            if type(layer).__name__.endswith("Dropout") and rate is not None and float(rate) > limit:
                out.append(finding(
                    Symptom.EXCESSIVE_DROPOUT,
                    f"Layer {layer.name!r} drops {float(rate):.0%} of its inputs at every "
                    "training step: the signal and the gradient are mostly noise and the "
                    "network underfits.",
                    [f"use a rate of at most {limit:g} (0.2-0.5 is usual)"],
                    layer=layer.name, evidence={"rate": float(rate), "max": limit},
                ))
        return out


class UnscaledInputs(StaticCheck):
    """
    ## What it does
    Reports inputs that are not floats, or whose 99th percentile of |x| exceeds
    ``max_input_abs``, unless a normalising layer precedes the first weighted layer or the model
    takes integer ids (Embedding, lookups).

    ## Why is this bad
    The first layer's pre-activations are huge: sigmoids saturate, ReLUs die, the first layer's
    gradients dominate.  A risk, not an error: beside a run it is reported only with harm.

    ## Evidence
    The dtype, or the 99th percentile of |x|.

    ## Threshold
    ``max_input_abs`` = 10: LeCun et al., "Efficient BackProp" (1998), inputs centred with unit
    variance.

    ## Fix
    Standardise, scale to [0, 1] (x / 255.0), or add ``keras.layers.Normalization``/``Rescaling``.
    """

    name = "unscaled_inputs"
    symptoms = (Symptom.UNSCALED_INPUTS,)
    thresholds = ("max_input_abs",)

    def check(self, view: RecipeView) -> list[Finding]:
        for layer in view.leaves:
            kind = type(layer).__name__
            if kind in NORMALISING:
                return []
            if kind in WEIGHTED:
                break
        if view.leaves and type(view.leaves[0]).__name__ in TAKES_IDS:
            return []
        x = view.x
        if not np.issubdtype(x.dtype, np.floating):
            return [finding(
                Symptom.UNSCALED_INPUTS,
                f"The inputs are {x.dtype} values, not floats: raw integer features such as "
                "pixel intensities are far from the unit scale the initialisers assume.",
                ["convert to float32 and scale, e.g. x / 255.0 or standardise",
                 "or add keras.layers.Rescaling as the first layer"],
                evidence={"dtype": str(x.dtype)},
            )]
        if not x.size:
            return []
        sample = np.abs(x.reshape(len(x), -1)[:4096].astype(np.float64))
        p99 = float(np.percentile(sample, 99))
        if p99 <= view.thresholds.max_input_abs:
            return []
        return [finding(
            Symptom.UNSCALED_INPUTS,
            f"99% of the input values lie within ±{p99:.3g}, far outside [-1, 1]: the "
            "first layer's pre-activations are huge, saturating sigmoids, killing ReLUs "
            "and making the gradients of the first layer dominate.",
            ["standardise the inputs (subtract the mean, divide by the std)", "or "
             "scale to [0, 1], e.g. x / 255.0", "or add keras.layers.Normalization"],
            evidence={"abs_p99": p99, "max": view.thresholds.max_input_abs},
        )]


#: The static checks in the order they report.
STATIC_CHECKS: tuple[StaticCheck, ...] = (
    OutputVsLoss(), OutputMismatch(), LinearModel(), SymmetricInitialisation(), ExcessiveDropout(),
    UnscaledInputs(), PreprocessingMismatch(), FrozenVariables(), Bottleneck(), LossOnClasses(),
)


def check_recipe(recipe: Any, *, thresholds: Thresholds | None = None,
                 **overrides: Any) -> list[Finding]:
    """The checks that need no training: output activation vs the loss, a linear stack,
    dropout, the input scale.  Builds the model (imports TensorFlow).

    Example:
        >>> [str(f.symptom) for f in check_recipe(recipe)]    # doctest: +SKIP
        ['probabilities_as_logits']
    """
    if not all(isinstance(part, np.ndarray) for part in recipe.data):
        return []  # several inputs or outputs: these checks read one x and one y
    t = (thresholds or project_thresholds()).updated(**overrides)
    key = _memo_key(recipe, t)
    if key is not None and key in _CHECKED:
        return list(_CHECKED[key])
    view = RecipeView.of(recipe, t)
    findings = [f for check in STATIC_CHECKS for f in check.check(view)]
    if key is not None:
        _CHECKED[key] = tuple(findings)
        while len(_CHECKED) > _CHECKED_MAX:
            _CHECKED.pop(next(iter(_CHECKED)))
    return findings


#: Static findings of recipes already checked, by (fingerprint, thresholds), oldest first: every
#: verdict spec on a broken model diagnoses its recipe, and each check built the model again.
_CHECKED: dict[tuple[str, Thresholds], tuple[Finding, ...]] = {}
_CHECKED_MAX = 64


def _memo_key(recipe: Any, thresholds: Thresholds) -> tuple[str, Thresholds] | None:
    """(fingerprint, thresholds) of a recipe object trained in this process whose arrays and
    code have not changed since (the fingerprint covers data, configuration, initial weights and
    the user's code: what the checks read), else None: check it afresh."""
    from trainspec.engine.memo import known_fingerprint

    fingerprint = known_fingerprint(recipe)
    return None if fingerprint is None else (fingerprint, thresholds)
