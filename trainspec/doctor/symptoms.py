"""The doctor's vocabulary and its answers: :class:`Symptom`, :class:`Finding`, :class:`Diagnosis`.

A :class:`Finding` is what every rule returns and what the report, the CLI and the teaching
material read; its fields are stable (see the class docstring).  Nothing here imports TensorFlow.

Example:
    >>> from trainspec.doctor import Finding, Symptom
    >>> f = Finding(Symptom.DEAD_UNITS, "most units never fire", ("use He init",), layer="d1")
    >>> f.where
    "layer 'd1'"
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from enum import Enum
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

if TYPE_CHECKING:
    from trainspec.doctor.thresholds import Thresholds


class Symptom(str, Enum):
    """The doctor's vocabulary; ``str(symptom)`` is its name."""

    # static: found from the model, loss and data before training
    PROBABILITIES_AS_LOGITS = "probabilities_as_logits"
    LOGITS_AS_PROBABILITIES = "logits_as_probabilities"
    LINEAR_MODEL = "linear_model"
    EXCESSIVE_DROPOUT = "excessive_dropout"
    UNSCALED_INPUTS = "unscaled_inputs"
    # dynamic: found in the recorded run
    NON_FINITE = "non_finite"
    EXPLODING_GRADIENT = "exploding_gradient"
    DIVERGING_LOSS = "diverging_loss"
    BAD_INITIAL_LOSS = "bad_initial_loss"
    VANISHING_GRADIENT = "vanishing_gradient"
    DEAD_UNITS = "dead_units"
    SATURATED_UNITS = "saturated_units"
    UNCHANGED_WEIGHTS = "unchanged_weights"
    UPDATE_RATIO_OUT_OF_RANGE = "update_ratio_out_of_range"
    OSCILLATING_LOSS = "oscillating_loss"
    LOSS_NOT_DECREASING = "loss_not_decreasing"
    SLOW_CONVERGENCE = "slow_convergence"
    ACCURACY_AT_CHANCE = "accuracy_at_chance"
    OVERFITTING = "overfitting"
    # added with the ranking (issue 12)
    LEARNING_RATE_TOO_HIGH = "learning_rate_too_high"
    SHRINKING_ACTIVATIONS = "shrinking_activations"
    COLLAPSED_REPRESENTATIONS = "collapsed_representations"
    SYMMETRIC_INITIALISATION = "symmetric_initialisation"
    NO_LEARNABLE_SIGNAL = "no_learnable_signal"
    OUTPUT_MISMATCH = "output_mismatch"
    PREPROCESSING_MISMATCH = "preprocessing_mismatch"
    FROZEN_VARIABLES = "frozen_variables"
    BOTTLENECK = "bottleneck"
    OFF_CENTRE_ACTIVATIONS = "off_centre_activations"
    REGRESSION_LOSS_ON_CLASSES = "regression_loss_on_classes"
    GENERALISATION_GAP = "generalisation_gap"
    ILL_CONDITIONED = "ill_conditioned"

    def __str__(self) -> str:
        return self.value

    @property
    def family(self) -> str:
        """The cause family this symptom belongs to (``"learning_rate"``, ``"initialisation"``...)."""
        return FAMILY[self]


#: Symptoms read off the recipe without training.
STATIC = frozenset({
    Symptom.PROBABILITIES_AS_LOGITS, Symptom.LOGITS_AS_PROBABILITIES, Symptom.LINEAR_MODEL,
    Symptom.EXCESSIVE_DROPOUT, Symptom.UNSCALED_INPUTS, Symptom.SYMMETRIC_INITIALISATION,
    Symptom.OUTPUT_MISMATCH, Symptom.PREPROCESSING_MISMATCH, Symptom.FROZEN_VARIABLES,
    Symptom.BOTTLENECK, Symptom.REGRESSION_LOSS_ON_CLASSES,
})
#: Static symptoms that are risks rather than errors (a model with 0.6 dropout, unscaled
#: features and Adam, a frozen pretrained layer, a narrow layer can train well): with a run,
#: reported only when the run shows harm too.
RISKS = frozenset({Symptom.EXCESSIVE_DROPOUT, Symptom.UNSCALED_INPUTS, Symptom.FROZEN_VARIABLES,
                   Symptom.BOTTLENECK, Symptom.REGRESSION_LOSS_ON_CLASSES})

#: The cause family of each symptom: what the primary finding names.  ``outcome`` symptoms say
#: what went wrong, never why, so they are never primary while a cause is found.
FAMILY: dict[Symptom, str] = {
    Symptom.LEARNING_RATE_TOO_HIGH: "learning_rate",
    Symptom.UPDATE_RATIO_OUT_OF_RANGE: "learning_rate",
    Symptom.OSCILLATING_LOSS: "learning_rate",
    Symptom.DIVERGING_LOSS: "learning_rate",
    Symptom.SLOW_CONVERGENCE: "learning_rate",
    Symptom.EXPLODING_GRADIENT: "exploding_gradient",
    Symptom.NON_FINITE: "exploding_gradient",
    Symptom.VANISHING_GRADIENT: "vanishing_gradient",
    Symptom.SATURATED_UNITS: "vanishing_gradient",
    Symptom.DEAD_UNITS: "dead_units",
    Symptom.BAD_INITIAL_LOSS: "initialisation",
    Symptom.SHRINKING_ACTIVATIONS: "initialisation",
    Symptom.COLLAPSED_REPRESENTATIONS: "initialisation",
    Symptom.SYMMETRIC_INITIALISATION: "initialisation",
    Symptom.PROBABILITIES_AS_LOGITS: "output_and_loss",
    Symptom.LOGITS_AS_PROBABILITIES: "output_and_loss",
    Symptom.OUTPUT_MISMATCH: "output_and_loss",
    Symptom.REGRESSION_LOSS_ON_CLASSES: "output_and_loss",
    Symptom.OFF_CENTRE_ACTIVATIONS: "activation",
    Symptom.UNSCALED_INPUTS: "data",
    Symptom.PREPROCESSING_MISMATCH: "data",
    Symptom.NO_LEARNABLE_SIGNAL: "data",
    Symptom.LINEAR_MODEL: "architecture",
    Symptom.BOTTLENECK: "architecture",
    Symptom.EXCESSIVE_DROPOUT: "regularisation",
    Symptom.OVERFITTING: "regularisation",
    Symptom.GENERALISATION_GAP: "regularisation",
    Symptom.ILL_CONDITIONED: "optimizer",
    Symptom.UNCHANGED_WEIGHTS: "frozen",
    Symptom.FROZEN_VARIABLES: "frozen",
    Symptom.LOSS_NOT_DECREASING: "outcome",
    Symptom.ACCURACY_AT_CHANCE: "outcome",
}

#: The curriculum module (``examples/<name>.py``) showing each symptom, first existing one wins.
LESSONS: dict[Symptom, tuple[str, ...]] = {
    Symptom.NON_FINITE: ("high_learning_rate", "exploding"),
    Symptom.EXPLODING_GRADIENT: ("exploding", "high_learning_rate"),
    Symptom.DIVERGING_LOSS: ("high_learning_rate",),
    Symptom.OSCILLATING_LOSS: ("high_learning_rate",),
    Symptom.VANISHING_GRADIENT: ("sigmoid_vanishing", "vanishing"),
    Symptom.SATURATED_UNITS: ("sigmoid_vanishing", "vanishing"),
    Symptom.DEAD_UNITS: ("dying_relu", "high_learning_rate"),
    Symptom.BAD_INITIAL_LOSS: ("init", "bad_init", "initialisation"),
    Symptom.UNCHANGED_WEIGHTS: ("init", "bad_init", "sigmoid_vanishing"),
    Symptom.UPDATE_RATIO_OUT_OF_RANGE: ("high_learning_rate", "sigmoid_vanishing"),
    Symptom.LOSS_NOT_DECREASING: ("sigmoid_vanishing",),
    Symptom.SLOW_CONVERGENCE: ("sigmoid_vanishing",),
    Symptom.ACCURACY_AT_CHANCE: ("sigmoid_vanishing",),
    Symptom.PROBABILITIES_AS_LOGITS: ("softmax_logits", "custom_train_step", "fail5"),
    Symptom.LOGITS_AS_PROBABILITIES: ("softmax_logits", "custom_train_step"),
    Symptom.EXCESSIVE_DROPOUT: ("dropout", "high_dropout"),
    Symptom.UNSCALED_INPUTS: ("unscaled_inputs", "batchnorm"),
    Symptom.LINEAR_MODEL: ("linear", "no_activation"),
    Symptom.OVERFITTING: ("early_stopping",),
    Symptom.GENERALISATION_GAP: ("transfer_learning", "regularisation"),
    Symptom.ILL_CONDITIONED: ("momentum",),
    Symptom.LEARNING_RATE_TOO_HIGH: ("high_learning_rate",),
    Symptom.SHRINKING_ACTIVATIONS: ("initialisation",),
    Symptom.COLLAPSED_REPRESENTATIONS: ("selu",),
    Symptom.PREPROCESSING_MISMATCH: ("input_noise",),
    Symptom.OUTPUT_MISMATCH: ("wrong_loss",),
    Symptom.REGRESSION_LOSS_ON_CLASSES: ("wrong_loss",),
    Symptom.OFF_CENTRE_ACTIVATIONS: ("sigmoid_vanishing",),
}


def lesson_for(symptom: Symptom) -> str | None:
    """``examples/<name>.py`` of the curriculum pair showing ``symptom``, if the checkout has it."""
    root = Path(__file__).resolve().parents[2] / "examples"
    for name in LESSONS.get(symptom, ()):
        if (root / f"{name}.py").is_file():
            return f"examples/{name}.py"
    return None


@dataclass(frozen=True)
class Finding:
    """One symptom seen in a run (or a recipe): where, the evidence, why, and what to do.

    Fields (stable: the report, the CLI and the exercises read them):

    - ``symptom``: the :class:`Symptom`;
    - ``explanation``: one paragraph saying what was measured and why it matters;
    - ``fixes``: concrete changes, most likely first;
    - ``layer`` / ``step``: where it shows (None when it is the whole run);
    - ``evidence``: the numbers that crossed the threshold, by name;
    - ``lesson``: the curriculum module showing the same problem, if any;
    - ``strength``: how far past its threshold the evidence is, 0 (at it) to 1 (ten times or
      more past it, on a log scale): the registry ranks causes by it;
    - ``family``: the cause family (``symptom.family`` unless the rule knows better, e.g. units
      dead from the first step are an ``initialisation`` problem).
    """

    symptom: Symptom
    explanation: str
    fixes: tuple[str, ...]
    layer: str | None = None
    step: int | None = None
    evidence: Mapping[str, Any] = field(default_factory=dict)
    lesson: str | None = None
    strength: float = 0.5
    family: str = ""

    def __post_init__(self) -> None:
        if not self.family:
            object.__setattr__(self, "family", self.symptom.family)

    @property
    def where(self) -> str:
        parts = []
        if self.layer:
            parts.append(f"layer {self.layer!r}")
        if self.step is not None:
            parts.append(f"step {self.step}")
        return ", ".join(parts) or ("before training" if self.symptom in STATIC else "whole run")

    def to_json(self) -> dict[str, Any]:
        """A JSON-able dict (NaN/Inf become None); ``report.failure_panel`` shows it."""
        fixes = list(self.fixes)
        if self.lesson:
            fixes = [*fixes, f"see the curriculum pair {self.lesson}"]
        return {
            "symptom": str(self.symptom),
            "where": self.where,
            "layer": self.layer,
            "step": self.step,
            "evidence": {k: clean(v) for k, v in self.evidence.items()},
            "explanation": self.explanation,
            "fixes": fixes,
            "lesson": self.lesson,
            "family": self.family,
            "strength": round(float(self.strength), 3),
        }

    def __str__(self) -> str:
        numbers = ", ".join(f"{k}={fmt(v)}" for k, v in self.evidence.items())
        text = f"{self.symptom} ({self.where}): {numbers}\n  {self.explanation}"
        for fix in self.fixes:
            text += f"\n  fix: {fix}"
        if self.lesson:
            text += f"\n  see: {self.lesson}"
        return text


def finding(symptom: Symptom, explanation: str, fixes: Iterable[str], **kw: Any) -> Finding:
    """A :class:`Finding` with its curriculum lesson filled in (what every rule returns)."""
    return Finding(symptom, explanation, tuple(fixes), lesson=lesson_for(symptom), **kw)


def past(value: float, threshold: float, *, below: bool = False) -> float:
    """Evidence strength: how far ``value`` is past ``threshold`` on a log scale, 0 at the
    threshold, 1 at ten times past it (``below``: the bound is an upper one for smallness)."""
    if value <= 0 or threshold <= 0:
        return 1.0 if (value <= 0) == below else 0.0
    decades = math.log10(threshold / value) if below else math.log10(value / threshold)
    return float(min(1.0, max(0.0, decades)))


def clean(value: Any) -> Any:
    """``value`` as plain JSON: numpy numbers to Python, NaN/Inf to None."""
    if isinstance(value, (float, np.floating)):
        value = float(value)
        return value if math.isfinite(value) else None
    if isinstance(value, np.integer):
        return int(value)
    if isinstance(value, (list, tuple)):
        return [clean(v) for v in value]
    return value


def fmt(value: Any) -> str:
    """A number in three significant digits, anything else as ``str``."""
    if isinstance(value, (float, np.floating)):
        return f"{float(value):.3g}"
    return str(value)


@dataclass
class Diagnosis:
    """The findings of one run, most fundamental first; empty when the run looks healthy.

    Example:
        >>> diagnosis = trainspec.diagnose(run)               # doctest: +SKIP
        >>> [str(f.symptom) for f in diagnosis.findings]
        ['vanishing_gradient', 'loss_not_decreasing']
    """

    label: str
    findings: list[Finding]
    thresholds: Thresholds
    #: the findings the primary cause explains (set by the registry's ranking)
    consequences: list[Finding] = field(default_factory=list)

    @property
    def healthy(self) -> bool:
        return not self.findings

    @property
    def primary(self) -> Finding | None:
        """The finding ranked as the cause (the first one), or None for a healthy run."""
        return self.findings[0] if self.findings else None

    @property
    def summary(self) -> str:
        """One sentence: the cause and the consequences it explains."""
        if not self.findings:
            return f"{self.label}: no findings"
        head = self.findings[0]
        text = f"{head.symptom} ({head.where})"
        if self.consequences:
            text += ", which explains " + ", ".join(str(f.symptom) for f in self.consequences)
        return text

    @property
    def symptoms(self) -> list[Symptom]:
        return [f.symptom for f in self.findings]

    def __contains__(self, symptom: Symptom | str) -> bool:
        return str(symptom) in {str(s) for s in self.symptoms}

    def to_json(self) -> dict[str, Any]:
        return {"label": self.label, "findings": [f.to_json() for f in self.findings],
                "primary": str(self.primary.symptom) if self.primary else None,
                "consequences": [str(f.symptom) for f in self.consequences],
                "summary": self.summary}

    def __str__(self) -> str:
        if not self.findings:
            return f"{self.label}: no findings"
        head = f"{self.label}: {len(self.findings)} finding{'s' if len(self.findings) > 1 else ''}"
        head += f"; cause: {self.summary}"
        return head + "\n" + "\n".join(str(f) for f in self.findings)
