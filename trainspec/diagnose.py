"""The doctor: name what went wrong in a run, where, why, and what to change.

``diagnose(run)`` reads a finished :class:`~trainspec.Run` and returns a :class:`Diagnosis`: a
list of :class:`Finding`\\ s, each a :class:`Symptom` from a fixed vocabulary with the layer and
step where it shows, the numbers that crossed the threshold, a paragraph of explanation and
concrete fixes pointing at the curriculum pair that shows the same problem.  Given the recipe
(``diagnose(run, recipe=recipe)``) it also runs *static* checks that need no training: a
softmax/sigmoid output fed to a loss expecting logits, a stack of layers with no non-linearity,
dropout above 0.5, inputs far outside [-1, 1] or not floats.

Thresholds (:class:`Thresholds`) default to published heuristics, cited beside each field, and
can be changed per call (``diagnose(run, dead_fraction=0.9)``) or per project
(``[tool.trainspec.doctor]`` in ``pyproject.toml``, or the ``trainspec_doctor`` ini option).

Two rules keep healthy runs free of findings:

* *outcome* symptoms (the loss or accuracy did not do what training should do) are reported on
  their own;
* *mechanism* symptoms (update ratios) are reported when the loss shows harm too, or when they are
  a hundred times past their bound; vanishing/exploding gradients, dead and saturated units use
  the published bounds, which healthy networks are far from;
* static *risks* (dropout above 0.5, inputs far outside [-1, 1]) are reported with a run only
  when the run shows some harm: ``check_recipe`` alone reports them always.

TensorFlow is imported only by the static checks (to build the model), never by importing this
module.
"""

from __future__ import annotations

import inspect
import math
import sys
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from enum import Enum
from pathlib import Path
from typing import Any

import numpy as np
from pydantic import BaseModel, ConfigDict, Field

from trainspec.constants import ActivationKind
from trainspec.run import Run


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

    def __str__(self) -> str:
        return self.value


#: Symptoms read off the recipe without training.
STATIC = frozenset({
    Symptom.PROBABILITIES_AS_LOGITS, Symptom.LOGITS_AS_PROBABILITIES, Symptom.LINEAR_MODEL,
    Symptom.EXCESSIVE_DROPOUT, Symptom.UNSCALED_INPUTS,
})
#: Static symptoms that are risks rather than errors (a model with 0.6 dropout, or unscaled
#: features and Adam, can train well): with a run, reported only when the run shows harm too.
RISKS = frozenset({Symptom.EXCESSIVE_DROPOUT, Symptom.UNSCALED_INPUTS})


class Thresholds(BaseModel):
    """Every number the doctor compares against, with the source of its default.

    Example:
        >>> from trainspec.diagnose import Thresholds
        >>> Thresholds(dead_fraction=0.9).dead_fraction
        0.9
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    # AUTOTRAINER (Zhang et al., ICSE 2021), "vanishing gradient": the first layer's gradient
    # norm over the last layer's <= 1e-3 while the first layer's norm is <= 1e-4.
    vanishing_ratio: float = Field(1e-3, gt=0)
    vanishing_first_norm: float = Field(1e-4, gt=0)
    # AUTOTRAINER, "exploding gradient": first/last gradient-norm ratio >= 70, or NaN; we also
    # apply the factor to one layer's growth over the run.
    exploding_ratio: float = Field(70.0, gt=1)
    # AUTOTRAINER, "dying ReLU": >= 70% of a ReLU layer's units inactive on a batch.
    dead_fraction: float = Field(0.7, gt=0, le=1)
    # AUTOTRAINER / DeepDiagnosis (Wardat et al., ICSE 2022), "saturated activation": > 50% of
    # sigmoid/tanh units in the flat tails (|z| > 5 for sigmoid, the same slope for tanh).
    saturated_fraction: float = Field(0.5, gt=0, le=1)
    # CS231n (Karpathy), "ratio of weights:updates": about 1e-3; log10 outside [-4, -1] is
    # suspect.  Reported when the loss shows harm, or when 100x past a bound (`mechanism_margin`).
    update_ratio_low: float = Field(1e-4, gt=0)
    update_ratio_high: float = Field(1e-1, gt=0)
    mechanism_margin: float = Field(100.0, ge=1)
    # Karpathy, "A Recipe for Training Neural Networks" (2019): verify the loss at init is about
    # -log(1/C).  Glorot/He-initialised nets land within a factor of ~2; we flag beyond 3.
    initial_loss_factor: float = Field(3.0, gt=1)
    # DeepDiagnosis / AUTOTRAINER "loss not decreasing / not converging": the loss (median of
    # the last tenth of the run) fell by less than this fraction of its start.
    min_decrease: float = Field(0.1, ge=0, lt=1)
    # DeepDiagnosis "slow convergence": fell by less than this, still falling steadily at the end
    # (the second half fell at least `slow_steadiness` times as much as the first).
    slow_decrease: float = Field(0.3, gt=0, lt=1)
    slow_steadiness: float = Field(0.5, gt=0)
    # AUTOTRAINER "unstable/oscillating loss": in the second half the loss swings with a
    # coefficient of variation above this while it has not reached half of its start, and the
    # second half is not still falling (slope within two standard errors of flat: sampling noise
    # around a falling loss is not oscillation).
    oscillation_cv: float = Field(0.25, gt=0)
    # Divergence: the end of the run is this fraction above its start, or the loss gave back
    # more than `diverge_rebound` of the progress it had made (AUTOTRAINER "exploding loss").
    diverge_rise: float = Field(0.5, gt=0)
    diverge_rebound: float = Field(0.5, gt=0, le=1)
    # Accuracy within this margin of chance (a fraction of 1 - chance) counts as chance.
    chance_margin: float = Field(0.1, ge=0, lt=1)
    # Softmax outputs used as logits bound cross-entropy below by log(1 + (C-1)/e); a loss
    # within this relative tolerance of the floor with accuracy far above chance shows it.
    floor_tolerance: float = Field(0.05, ge=0)
    # Prechelt, "Early Stopping - But When?" (1998): generalisation loss GL = val/best_val - 1;
    # the final model is overfitted when GL exceeds this (Prechelt's criteria stop at 0.01-0.05;
    # 0.2 is deliberately conservative).
    overfit_rise: float = Field(0.2, gt=0)
    # Srivastava et al., JMLR 2014 ("Dropout"): retain probability 0.5 for hidden units, 0.8
    # for inputs; a drop rate above 0.5 starves the network.
    max_dropout: float = Field(0.5, gt=0, le=1)
    # LeCun et al., "Efficient BackProp" (1998): inputs should be centred with unit variance;
    # flag when the 99th percentile of |x| exceeds this.
    max_input_abs: float = Field(10.0, gt=1)

    def updated(self, **changes: Any) -> Thresholds:
        """A validated copy with some thresholds changed."""
        if not changes:
            return self
        return type(self)(**{**self.model_dump(), **changes})


_PROJECT: dict[str, Any] = {}
_PYPROJECT_CACHE: dict[Path, dict[str, Any]] = {}


def _read_pyproject(start: Path) -> dict[str, Any]:
    for folder in [start, *start.parents]:
        candidate = folder / "pyproject.toml"
        if candidate.is_file():
            if candidate not in _PYPROJECT_CACHE:
                if sys.version_info >= (3, 11):
                    import tomllib
                else:  # pragma: no cover
                    import tomli as tomllib
                with candidate.open("rb") as handle:
                    data = tomllib.load(handle)
                _PYPROJECT_CACHE[candidate] = dict(
                    data.get("tool", {}).get("trainspec", {}).get("doctor", {})
                )
            return _PYPROJECT_CACHE[candidate]
    return {}


def configure(**overrides: Any) -> None:
    """Set project-wide thresholds (the plugin calls this with the ``trainspec_doctor`` ini
    lines); they apply on top of ``pyproject.toml`` and under per-call overrides."""
    Thresholds(**overrides)  # validate now
    _PROJECT.clear()
    _PROJECT.update(overrides)


def project_thresholds(start: Path | None = None) -> Thresholds:
    """Defaults, then ``[tool.trainspec.doctor]`` of the nearest ``pyproject.toml`` above
    ``start`` (the working directory), then :func:`configure`'s overrides."""
    values = dict(_read_pyproject((start or Path.cwd()).resolve()))
    values.update(_PROJECT)
    return Thresholds(**values)


def parse_lines(lines: Iterable[str]) -> dict[str, float]:
    """``["dead_fraction = 0.9", ...]`` (ini lines) as a dict of floats."""
    out: dict[str, float] = {}
    for line in lines:
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        key, sep, value = line.partition("=")
        if not sep:
            raise ValueError(f"trainspec_doctor: expected 'name = value', got {line!r}")
        out[key.strip()] = float(value)
    return out


# -- findings ----------------------------------------------------------------------------------

#: The curriculum module (``examples/<name>.py``) showing each symptom, first existing one wins.
_LESSONS: dict[Symptom, tuple[str, ...]] = {
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
}


def _lesson(symptom: Symptom) -> str | None:
    root = Path(__file__).resolve().parent.parent / "examples"
    for name in _LESSONS.get(symptom, ()):
        if (root / f"{name}.py").is_file():
            return f"examples/{name}.py"
    return None


@dataclass(frozen=True)
class Finding:
    """One symptom seen in a run (or a recipe): where, the evidence, why, and what to do."""

    symptom: Symptom
    explanation: str
    fixes: tuple[str, ...]
    layer: str | None = None
    step: int | None = None
    evidence: Mapping[str, Any] = field(default_factory=dict)
    lesson: str | None = None

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
            "evidence": {k: _clean(v) for k, v in self.evidence.items()},
            "explanation": self.explanation,
            "fixes": fixes,
            "lesson": self.lesson,
        }

    def __str__(self) -> str:
        numbers = ", ".join(f"{k}={_fmt(v)}" for k, v in self.evidence.items())
        text = f"{self.symptom} ({self.where}): {numbers}\n  {self.explanation}"
        for fix in self.fixes:
            text += f"\n  fix: {fix}"
        if self.lesson:
            text += f"\n  see: {self.lesson}"
        return text


def _clean(value: Any) -> Any:
    if isinstance(value, (float, np.floating)):
        value = float(value)
        return value if math.isfinite(value) else None
    if isinstance(value, np.integer):
        return int(value)
    if isinstance(value, (list, tuple)):
        return [_clean(v) for v in value]
    return value


def _fmt(value: Any) -> str:
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

    @property
    def healthy(self) -> bool:
        return not self.findings

    @property
    def symptoms(self) -> list[Symptom]:
        return [f.symptom for f in self.findings]

    def __contains__(self, symptom: Symptom | str) -> bool:
        return str(symptom) in {str(s) for s in self.symptoms}

    def to_json(self) -> dict[str, Any]:
        return {"label": self.label, "findings": [f.to_json() for f in self.findings]}

    def __str__(self) -> str:
        if not self.findings:
            return f"{self.label}: no findings"
        head = f"{self.label}: {len(self.findings)} finding{'s' if len(self.findings) > 1 else ''}"
        return head + "\n" + "\n".join(str(f) for f in self.findings)


_ORDER = [
    Symptom.PROBABILITIES_AS_LOGITS, Symptom.LOGITS_AS_PROBABILITIES, Symptom.UNSCALED_INPUTS,
    Symptom.LINEAR_MODEL, Symptom.EXCESSIVE_DROPOUT, Symptom.NON_FINITE,
    Symptom.EXPLODING_GRADIENT, Symptom.DIVERGING_LOSS, Symptom.BAD_INITIAL_LOSS,
    Symptom.VANISHING_GRADIENT, Symptom.UNCHANGED_WEIGHTS, Symptom.DEAD_UNITS,
    Symptom.SATURATED_UNITS, Symptom.UPDATE_RATIO_OUT_OF_RANGE, Symptom.OSCILLATING_LOSS,
    Symptom.LOSS_NOT_DECREASING, Symptom.SLOW_CONVERGENCE, Symptom.ACCURACY_AT_CHANCE,
    Symptom.OVERFITTING,
]


def diagnose(run: Run, recipe: Any = None, *, thresholds: Thresholds | None = None,
             **overrides: Any) -> Diagnosis:
    """Diagnose a finished run; pass its ``recipe`` to add the static checks.

    Thresholds: project defaults (:func:`project_thresholds`), or ``thresholds=``, with keyword
    overrides on top (``diagnose(run, dead_fraction=0.9)``).

    Example:
        >>> run = trainspec.train(recipe)                     # doctest: +SKIP
        >>> for finding in trainspec.diagnose(run, recipe).findings:
        ...     print(finding.symptom, finding.where, finding.fixes[0])
    """
    t = (thresholds or project_thresholds()).updated(**overrides)
    findings: list[Finding] = []
    dynamic = _dynamic(run, recipe, t)
    if recipe is not None:
        findings += [f for f in check_recipe(recipe, thresholds=t)
                     if f.symptom not in RISKS or dynamic]
    findings += dynamic
    seen: set[Symptom] = {f.symptom for f in findings if f.symptom in STATIC}
    unique = []
    for f in findings:  # a static finding and its dynamic confirmation: keep the static one
        if f.symptom in STATIC and f.symptom in seen and any(
            g is not f and g.symptom == f.symptom for g in unique
        ):
            continue
        unique.append(f)
    unique.sort(key=lambda f: _ORDER.index(f.symptom))
    return Diagnosis(label=run.label, findings=unique, thresholds=t)


def _finding(symptom: Symptom, explanation: str, fixes: Iterable[str], **kw: Any) -> Finding:
    return Finding(symptom, explanation, tuple(fixes), lesson=_lesson(symptom), **kw)


# -- dynamic checks ----------------------------------------------------------------------------


@dataclass
class _Curve:
    loss: np.ndarray
    window: int
    start: float
    end: float
    low: float  # minimum of the smoothed loss
    low_step: int

    @property
    def decrease(self) -> float:
        return 1.0 - self.end / self.start if self.start > 0 else 0.0


def _curve(run: Run) -> _Curve | None:
    loss = np.asarray(run.loss, dtype=np.float64)
    if len(loss) < 5 or not np.all(np.isfinite(loss)):
        return None
    w = max(3, min(20, len(loss) // 10))
    smooth = np.asarray(run.loss.smoothed(w), dtype=np.float64)[w - 1:]
    low_at = int(np.argmin(smooth)) + w - 1
    return _Curve(loss, w, float(np.median(loss[:w])), float(np.median(loss[-w:])),
                  float(smooth.min()), low_at)


def _still_falling(values: np.ndarray) -> bool:
    """Whether ``values`` trend down by more than two standard errors of a least-squares slope.

    Per-batch losses scatter by the sampling noise of a minibatch (with 32 squared errors, a
    coefficient of variation near 0.25 is expected from sampling alone): a noisy curve that is
    still going down is learning, not bouncing across a minimum.  The usual two-standard-error
    test on the trend's slope separates the two without a threshold of its own.
    """
    if len(values) < 8:
        return False
    x = np.arange(len(values), dtype=np.float64)
    slope, intercept = np.polyfit(x, values, 1)
    residual = values - (slope * x + intercept)
    se = float(np.std(residual, ddof=2)) / math.sqrt(float(((x - x.mean()) ** 2).sum()))
    return bool(slope < 0 and (se == 0 or slope / se < -2.0))


def _is_crossentropy(run: Run) -> bool:
    name = (run.loss_name or "").lower()
    return "crossentropy" in name or (run.loss_name is None and run.n_classes is not None)


def _accuracy(run: Run) -> tuple[str, np.ndarray] | None:
    for name, series in run.metrics.items():
        if "acc" in name.lower():
            return name, np.asarray(series, dtype=np.float64)
    return None


def _chance_accuracy(run: Run, recipe: Any) -> float | None:
    if not run.n_classes or run.n_classes < 2:
        return None
    chance = 1.0 / run.n_classes
    if recipe is not None:  # the majority class, when labels are imbalanced
        try:
            y = np.asarray(recipe.split()[0][1])
            labels = y.argmax(-1) if y.ndim >= 2 and y.shape[-1] > 1 else y.reshape(len(y), -1)[:, 0]
            _, counts = np.unique(np.round(labels), return_counts=True)
            chance = max(chance, float(counts.max() / counts.sum()))
        except Exception:
            pass
    return chance


def _dynamic(run: Run, recipe: Any, t: Thresholds) -> list[Finding]:
    out: list[Finding] = []
    curve = _curve(run) if run.finite else None
    layers = [lt for lt in run.layers.list() if len(lt.grad_norm)]
    outcome_harm = False

    # -- non-finite and explosion
    if run.nonfinite is not None:
        nf = run.nonfinite
        out.append(_finding(
            Symptom.NON_FINITE,
            f"{nf}. Once a NaN or Inf appears every later update is NaN too; it is almost always "
            "an update too large for the curvature (learning rate, no clipping), a loss that "
            "takes log(0), or inputs with huge values.",
            ["lower the learning rate 10x", "clip gradients: optimizer={'name': ..., "
             "'clipnorm': 1.0}", "scale the inputs to about [-1, 1]"],
            step=nf.step, evidence={"step": nf.step, "tensor": nf.tensor},
        ))
        outcome_harm = True
        loss = np.asarray(run.loss, dtype=np.float64)
        if len(loss) >= 2:
            w = max(1, min(10, len(loss) // 3))
            start = float(np.median(loss[:w]))
            peak = float(np.max(loss))
            if start > 0 and peak > start * (1 + t.diverge_rise):
                out.append(_finding(
                    Symptom.DIVERGING_LOSS,
                    "The loss rose instead of falling before the run broke down: each update "
                    "overshoots the minimum and lands higher up the other side.",
                    ["lower the learning rate (try 10x smaller)", "add gradient clipping"],
                    step=int(np.argmax(loss)),
                    evidence={"loss_start": start, "loss_peak": peak},
                ))
    if len(layers) >= 1:
        for lt in layers:
            g = np.asarray(lt.grad_norm, dtype=np.float64)
            w = max(1, min(10, len(g) // 10))
            base = float(np.median(g[:w]))
            rolled = np.array([np.median(g[max(0, i - 2): i + 1]) for i in range(len(g))])
            peak = float(rolled.max())
            if base > 0 and peak >= t.exploding_ratio * base:
                out.append(_finding(
                    Symptom.EXPLODING_GRADIENT,
                    f"The gradient of layer {lt.name!r} grew {peak / base:.3g}x during the run: "
                    "large updates make the weights and activations larger, which makes the next "
                    "gradients larger still.",
                    ["lower the learning rate", "clip gradients (clipnorm=1.0)",
                     "use a variance-preserving initialiser (He for ReLU, Glorot for tanh) or "
                     "BatchNormalization"],
                    layer=lt.name, step=int(rolled.argmax()),
                    evidence={"grad_norm_start": base, "grad_norm_peak": peak,
                              "growth": peak / base, "threshold": t.exploding_ratio},
                ))
                outcome_harm = True
                break
        if run.nonfinite is not None and run.nonfinite.tensor.startswith("gradient") and not any(
            f.symptom is Symptom.EXPLODING_GRADIENT for f in out
        ):
            out.append(_finding(
                Symptom.EXPLODING_GRADIENT,
                f"The {run.nonfinite.tensor} became non-finite at step {run.nonfinite.step}.",
                ["lower the learning rate", "clip gradients (clipnorm=1.0)"],
                step=run.nonfinite.step, evidence={"tensor": run.nonfinite.tensor},
            ))

    # -- the loss curve
    chance_loss = run.chance_loss if _is_crossentropy(run) else None
    if curve is not None:
        first = float(curve.loss[0])
        if chance_loss and first > t.initial_loss_factor * chance_loss:
            out.append(_finding(
                Symptom.BAD_INITIAL_LOSS,
                f"The first loss is {first:.3g}, but a freshly initialised classifier over "
                f"{run.n_classes} classes should be near -log(1/C) = {chance_loss:.3g}: the "
                "initial weights are far too large, so the first predictions are confidently "
                "wrong (or a regularisation penalty dominates the loss).",
                ["use the default Glorot/He initialiser", "scale the inputs",
                 "initialise the output layer's weights small"],
                step=0, evidence={"loss_first": first, "expected": chance_loss,
                                  "factor": first / chance_loss},
            ))
        rose = curve.start > 0 and curve.end > curve.start * (1 + t.diverge_rise)
        progress = curve.start - curve.low
        rebounded = (
            progress > 0.1 * curve.start and curve.end - curve.low > t.diverge_rebound * progress
            and curve.end > 2 * curve.low
        )
        if rose or rebounded:
            out.append(_finding(
                Symptom.DIVERGING_LOSS,
                f"The loss ended at {curve.end:.3g} after starting at {curve.start:.3g}"
                + (f" and reaching {curve.low:.3g}" if rebounded else "")
                + ": updates overshoot, so the loss climbs instead of settling.",
                ["lower the learning rate (try 10x smaller)", "add gradient clipping",
                 "use a learning-rate schedule that decays"],
                step=curve.low_step if rebounded else None,
                evidence={"loss_start": curve.start, "loss_min": curve.low, "loss_end": curve.end},
            ))
            outcome_harm = True
        else:
            half = curve.loss[len(curve.loss) // 2:]
            cv = float(np.std(half) / np.mean(half)) if np.mean(half) > 0 else 0.0
            stuck = float(np.median(half)) > 0.5 * curve.start
            if stuck and cv > t.oscillation_cv and curve.decrease < 0.5 and not _still_falling(half):
                out.append(_finding(
                    Symptom.OSCILLATING_LOSS,
                    f"In the second half the loss swings by {cv:.0%} of its level (coefficient of "
                    "variation) without getting lower: the steps are too large to settle into "
                    "the minimum and bounce across it.",
                    ["lower the learning rate 3-10x", "use a larger batch", "decay the learning "
                     "rate", "use momentum or Adam"],
                    evidence={"cv_second_half": cv, "threshold": t.oscillation_cv,
                              "loss_start": curve.start, "loss_end": curve.end},
                ))
                outcome_harm = True
            started_low = chance_loss is not None and curve.start < 0.5 * chance_loss
            if curve.decrease < t.min_decrease and not started_low and curve.start > 1e-6:
                out.append(_finding(
                    Symptom.LOSS_NOT_DECREASING,
                    f"The loss went from {curve.start:.3g} to {curve.end:.3g} "
                    f"({curve.decrease:+.1%}) in {len(curve.loss)} steps: the model is not "
                    "learning. Look at the gradient and update findings for the mechanism.",
                    ["check that gradients reach every layer (activations, initialisation)",
                     "raise the learning rate if the updates are tiny", "check the labels "
                     "match the inputs"],
                    evidence={"loss_start": curve.start, "loss_end": curve.end,
                              "relative_decrease": curve.decrease, "threshold": t.min_decrease},
                ))
                outcome_harm = True
            elif curve.decrease < t.slow_decrease and not started_low:
                n = len(curve.loss)
                mid = float(np.median(curve.loss[n // 2 - curve.window // 2: n // 2
                                                 + curve.window // 2 + 1]))
                first_half, second_half = curve.start - mid, mid - curve.end
                if second_half > 0 and second_half >= t.slow_steadiness * max(first_half, 0.0):
                    out.append(_finding(
                        Symptom.SLOW_CONVERGENCE,
                        f"The loss fell only {curve.decrease:.1%} in {n} steps and is still "
                        "falling at a steady pace: training works but each step does too little.",
                        ["raise the learning rate (try 10x)", "use Adam", "normalise the inputs "
                         "or add BatchNormalization"],
                        evidence={"relative_decrease": curve.decrease, "first_half_drop":
                                  first_half, "second_half_drop": second_half,
                                  "threshold": t.slow_decrease},
                    ))
                    outcome_harm = True

    # -- accuracy at chance, probabilities used as logits
    acc = _accuracy(run)
    chance = _chance_accuracy(run, recipe)
    if curve is not None and chance is not None:
        w = curve.window
        if acc is not None and len(acc[1]) >= w:
            final = float(np.median(acc[1][-w:]))
            if final <= chance + t.chance_margin * (1 - chance):
                out.append(_finding(
                    Symptom.ACCURACY_AT_CHANCE,
                    f"The {acc[0]} ends at {final:.3g}, no better than guessing ({chance:.3g}): "
                    "the model has learned nothing about the labels.",
                    ["check the labels are aligned with the inputs", "look at the gradient "
                     "findings: the signal may not reach the weights", "lower a huge "
                     "regularisation penalty"],
                    evidence={"accuracy": final, "chance": chance},
                ))
                outcome_harm = True
        val_acc = next((float(v) for k, v in run.val.items() if k.startswith("val_") and "acc" in k
                        and v is not None and np.isfinite(v)), None)
        if not any(f.symptom is Symptom.ACCURACY_AT_CHANCE for f in out) and val_acc is not None and (
            val_acc <= chance + t.chance_margin * (1 - chance)
        ):
            out.append(_finding(
                Symptom.ACCURACY_AT_CHANCE,
                f"The validation accuracy ends at {val_acc:.3g}, no better than guessing "
                f"({chance:.3g}): whatever the model fitted on the training data does not carry "
                "over to held-out inputs (noise or corrupted inputs, misaligned labels, or "
                "memorisation).",
                ["check the training inputs look like the validation inputs (noise, scaling, "
                 "augmentation)", "check the labels are aligned with the inputs", "regularise "
                 "or use more data if the training accuracy is high"],
                evidence={"val_accuracy": val_acc, "chance": chance},
            ))
            outcome_harm = True
        if (acc is None or len(acc[1]) < w) and not any(
            f.symptom is Symptom.ACCURACY_AT_CHANCE for f in out
        ) and chance_loss and curve.end >= (1 - t.chance_margin / 2) * chance_loss:
            out.append(_finding(
                Symptom.ACCURACY_AT_CHANCE,
                f"The loss ends at {curve.end:.3g}, the cross-entropy of a uniform guess "
                f"(log C = {chance_loss:.3g}): the model predicts no better than chance.",
                ["check the labels", "look at the gradient findings"],
                evidence={"loss_end": curve.end, "chance_loss": chance_loss},
            ))
            outcome_harm = True
        if _is_crossentropy(run) and run.n_classes and run.n_classes >= 2:
            c = run.n_classes
            floor = math.log(1 + (c - 1) / math.e)
            near_floor = floor <= curve.low * (1 + 1e-6) + 1e-6 and (
                curve.low <= floor * (1 + t.floor_tolerance)
            )
            confident = False
            if acc is not None and len(acc[1]) >= w:
                final = float(np.median(acc[1][-w:]))
                confident = final >= chance + 0.5 * (1 - chance)
            if near_floor and (confident or acc is None):
                out.append(_finding(
                    Symptom.PROBABILITIES_AS_LOGITS,
                    f"The loss never goes below {curve.low:.3g}, at or above "
                    f"log(1 + (C-1)/e) = {floor:.3g} for C={c}, the floor reached when softmax "
                    "probabilities are fed to a cross-entropy that applies softmax again "
                    "(from_logits=True, *_with_logits)"
                    + (f", although accuracy is {final:.3g}" if acc is not None else "") + ".",
                    ["drop the softmax from the output layer and keep from_logits=True", "or "
                     "keep the softmax and use a loss with from_logits=False"],
                    evidence={"loss_min": curve.low, "floor": floor, "n_classes": c},
                ))

    # -- validation: the model left at the end is worse than the best one seen
    history = run.val_history.get("val_loss")
    if curve is not None and history is not None and len(history) >= 3:
        values = np.asarray(history, dtype=np.float64)
        best = float(np.nanmin(values))
        final = float(run.val.get("val_loss", values[-1]))
        if best > 0 and final > best * (1 + t.overfit_rise) and curve.end < curve.start:
            at = int(np.asarray(history.steps)[int(np.nanargmin(values))])
            out.append(_finding(
                Symptom.OVERFITTING,
                f"The validation loss was {best:.3g} at step {at} and ends at {final:.3g} "
                f"({final / best - 1:+.0%}) while the training loss kept falling to "
                f"{curve.end:.3g}: the model memorises the training set and the one you keep is "
                "worse than the best one seen.",
                ["stop early: keras.callbacks.EarlyStopping(patience=..., "
                 "restore_best_weights=True)", "add regularisation (dropout, L2) or more data",
                 "use a smaller model"],
                step=at, evidence={"val_loss_best": best, "val_loss_final": final,
                                   "train_loss_end": curve.end, "threshold": t.overfit_rise},
            ))

    # -- gradients per layer
    if len(layers) >= 2:
        firstl, lastl = layers[0], layers[-1]
        g_first = float(np.median(np.asarray(firstl.grad_norm)))
        g_last = float(np.median(np.asarray(lastl.grad_norm)))
        if g_first > 0 and g_last > 0 and g_first / g_last <= t.vanishing_ratio and (
            g_first <= t.vanishing_first_norm
        ):
            out.append(_finding(
                Symptom.VANISHING_GRADIENT,
                f"The first layer {firstl.name!r} receives a gradient of {g_first:.2g}, "
                f"{g_first / g_last:.1e} of the last layer's: each layer on the way back "
                "multiplies it by a small factor (a sigmoid's slope is at most 0.25), so the "
                "early layers barely learn.",
                ["use ReLU-family activations with He initialisation", "add "
                 "BatchNormalization", "use fewer layers or residual connections"],
                layer=firstl.name, evidence={"grad_norm_first": g_first, "grad_norm_last": g_last,
                                             "ratio": g_first / g_last,
                                             "threshold_ratio": t.vanishing_ratio},
            ))
        elif g_last > 0 and g_first / g_last >= t.exploding_ratio and not any(
            f.symptom is Symptom.EXPLODING_GRADIENT for f in out
        ):
            out.append(_finding(
                Symptom.EXPLODING_GRADIENT,
                f"The first layer's gradient is {g_first / g_last:.3g}x the last layer's: each "
                "layer on the way back multiplies it by a factor above 1.",
                ["use a variance-preserving initialiser (He for ReLU, Glorot for tanh)",
                 "clip gradients (clipnorm=1.0)", "add BatchNormalization"],
                layer=firstl.name, evidence={"grad_norm_first": g_first, "grad_norm_last": g_last,
                                             "ratio": g_first / g_last},
            ))
    unchanged = [lt for lt in layers if float(np.max(np.asarray(lt.update_ratio))) <= 1e-12]
    if unchanged:
        names = [lt.name for lt in unchanged]
        out.append(_finding(
            Symptom.UNCHANGED_WEIGHTS,
            f"The weights of {', '.join(repr(n) for n in names)} did not change at any step: no "
            "gradient reaches them (a stop_gradient, a layer cut off from the loss, all-zero "
            "initial weights with a symmetric network, or ReLUs that are never active).",
            ["initialise weights randomly (Glorot/He), never all zeros", "remove "
             "stop_gradient / check every layer is connected to the loss"],
            layer=names[0], evidence={"layers": names, "max_update_ratio": 0.0},
        ))

    # -- activations
    relu = run.activations.of_kind(ActivationKind.RELU)
    dead = []
    for a in relu:
        values = np.asarray(a.dead, dtype=np.float64)
        if len(values) and float(np.median(values[-max(1, len(values) // 10):])) >= t.dead_fraction:
            dead.append((a.name, float(np.median(values[-max(1, len(values) // 10):]))))
    if dead:
        out.append(_finding(
            Symptom.DEAD_UNITS,
            f"{len(dead)} ReLU layer(s) have at least {t.dead_fraction:.0%} of their units "
            f"never active on a batch (worst {max(d[1] for d in dead):.0%} in {dead[0][0]!r}): a "
            "unit whose input is always negative has zero gradient and never recovers.",
            ["use He initialisation and zero biases", "lower the learning rate", "use "
             "LeakyReLU/ELU, or BatchNormalization before the ReLU"],
            layer=dead[0][0], evidence={"layers": [d[0] for d in dead],
                                        "dead_fraction": [d[1] for d in dead],
                                        "threshold": t.dead_fraction},
        ))
    squashing = run.activations.of_kind(ActivationKind.SIGMOID, ActivationKind.TANH)
    hidden = [a for a in squashing if not _is_output(run, a)]
    sat = []
    for a in hidden:
        values = np.asarray(a.saturated, dtype=np.float64)
        if len(values):
            level = float(np.median(values[-max(1, len(values) // 10):]))
            if level > t.saturated_fraction:
                sat.append((a.name, level))
    if sat:
        out.append(_finding(
            Symptom.SATURATED_UNITS,
            f"{len(sat)} sigmoid/tanh layer(s) have more than {t.saturated_fraction:.0%} of "
            f"their units in the flat tails (worst {max(s[1] for s in sat):.0%} in "
            f"{sat[0][0]!r}), where the slope is near zero and gradients vanish.",
            ["use ReLU-family activations", "scale the inputs and use Glorot initialisation",
             "add BatchNormalization before the activation"],
            layer=sat[0][0], evidence={"layers": [s[0] for s in sat],
                                       "saturated_fraction": [s[1] for s in sat]},
        ))

    # -- update ratios (mechanism: reported with harm, or when far past a bound)
    bad = []
    for lt in layers:
        if lt in unchanged:
            continue
        r = np.asarray(lt.update_ratio, dtype=np.float64)[1:]
        if not len(r):
            continue
        med = float(np.median(r))
        low, high = t.update_ratio_low, t.update_ratio_high
        far = med < low / t.mechanism_margin or med > high * t.mechanism_margin
        if (med < low or med > high) and (outcome_harm or far):
            bad.append((lt.name, med))
    if bad:
        worst = max(bad, key=lambda b: abs(math.log10(max(b[1], 1e-30)) + 3))
        too_small = worst[1] < t.update_ratio_low
        out.append(_finding(
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
        ))
    return out


def _is_output(run: Run, act: Any) -> bool:
    acts = run.activations.list()
    return bool(acts) and act is acts[-1] and act.activation == run.output_activation and (
        not run.layers.list() or act.name == run.layers.last.name
    )


# -- static checks -----------------------------------------------------------------------------

_LINEAR_LAYERS = {
    "InputLayer", "Dense", "EinsumDense", "Conv1D", "Conv2D", "Conv3D", "Conv1DTranspose",
    "Conv2DTranspose", "Conv3DTranspose", "DepthwiseConv2D", "SeparableConv2D", "Flatten",
    "Reshape", "Dropout", "GaussianNoise", "GaussianDropout", "SpatialDropout1D",
    "SpatialDropout2D", "BatchNormalization", "AveragePooling1D", "AveragePooling2D",
    "GlobalAveragePooling1D", "GlobalAveragePooling2D", "ZeroPadding2D", "Cropping2D", "Add",
    "Subtract", "Concatenate", "Rescaling", "Normalization", "Permute", "RepeatVector",
    "Identity", "Activation", "Lambda", "ActivityRegularization",
}
_WEIGHTED = {"Dense", "EinsumDense", "Conv1D", "Conv2D", "Conv3D", "DepthwiseConv2D",
             "SeparableConv2D", "Conv1DTranspose", "Conv2DTranspose", "Conv3DTranspose"}


def _source(fn: Any) -> str:
    try:
        return inspect.getsource(fn)
    except (OSError, TypeError):
        return ""


def _expects_logits(recipe: Any, model: Any) -> tuple[bool | None, str]:
    """Whether the recipe's loss expects logits (True), probabilities (False) or unknown."""
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


def check_recipe(recipe: Any, *, thresholds: Thresholds | None = None,
                 **overrides: Any) -> list[Finding]:
    """The checks that need no training: output activation vs the loss, a linear stack,
    dropout, the input scale.  Builds the model (imports TensorFlow).

    Example:
        >>> [str(f.symptom) for f in check_recipe(recipe)]    # doctest: +SKIP
        ['probabilities_as_logits']
    """
    t = (thresholds or project_thresholds()).updated(**overrides)
    out: list[Finding] = []
    try:
        from trainspec.engine import probes
        from trainspec.engine.prepare import build_model, seed_everything

        seed_everything(recipe.seed)
        model = build_model(recipe)
    except Exception:
        model = None  # training will report why the model cannot be built
    x = np.asarray(recipe.data[0])
    leaves = [] if model is None else probes.leaf_layers(model)
    first_kind = type(leaves[0]).__name__ if leaves else ""
    if model is not None:
        out_act = probes.output_activation(model)
        expects, what = _expects_logits(recipe, model)
        if expects is True and out_act in ("softmax", "sigmoid"):
            out.append(_finding(
                Symptom.PROBABILITIES_AS_LOGITS,
                f"The model ends in a {out_act} but {what} expects logits and applies "
                f"{out_act} again: the predictions are squashed twice, the loss cannot fall "
                "below log(1 + (C-1)/e) and the gradients shrink.",
                ["remove the output activation and keep the logits loss", f"or keep the "
                 f"{out_act} and use from_logits=False"],
                layer=leaves[-1].name if leaves else None,
                evidence={"output_activation": out_act, "loss": what},
            ))
        elif expects is False and out_act == "linear" and recipe.train_step is None:
            out.append(_finding(
                Symptom.LOGITS_AS_PROBABILITIES,
                f"The model's output is linear (logits) but {what} expects probabilities: "
                "Keras clips and renormalises the raw outputs, so the loss is wrong and "
                "training stalls.",
                ["use from_logits=True (e.g. keras.losses.SparseCategoricalCrossentropy("
                 "from_logits=True))", "or add activation='softmax' to the output layer"],
                layer=leaves[-1].name if leaves else None,
                evidence={"output_activation": out_act, "loss": what},
            ))
        weighted = [la for la in leaves if type(la).__name__ in _WEIGHTED]
        hidden = leaves[:-1] if leaves else []
        nonlinear = False
        for layer in hidden:
            kind = type(layer).__name__
            act = probes._layer_activation(layer)
            if act not in (None, "linear") or kind not in _LINEAR_LAYERS:
                nonlinear = True
                break
            if kind == "Lambda":
                nonlinear = True
                break
        if len(weighted) >= 2 and not nonlinear:
            out.append(_finding(
                Symptom.LINEAR_MODEL,
                f"The model stacks {len(weighted)} weighted layers with no non-linearity "
                "between them: a product of linear maps is one linear map, so the depth adds "
                "nothing and the model can only draw linear boundaries.",
                ["add activation='relu' to the hidden layers"],
                layer=weighted[0].name, evidence={"weighted_layers": len(weighted)},
            ))
        for layer in leaves:
            rate = getattr(layer, "rate", None)
            if type(layer).__name__.endswith("Dropout") and rate is not None and float(rate) > (
                t.max_dropout
            ):
                out.append(_finding(
                    Symptom.EXCESSIVE_DROPOUT,
                    f"Layer {layer.name!r} drops {float(rate):.0%} of its inputs at every "
                    "training step: the signal and the gradient are mostly noise and the "
                    "network underfits.",
                    [f"use a rate of at most {t.max_dropout:g} (0.2-0.5 is usual)"],
                    layer=layer.name, evidence={"rate": float(rate), "max": t.max_dropout},
                ))
    # a normalising layer before the first weighted layer rescales the inputs inside the model
    scaled_in_model = False
    for la in leaves:
        kind = type(la).__name__
        if kind in ("Rescaling", "Normalization", "BatchNormalization", "LayerNormalization",
                    "GroupNormalization", "UnitNormalization"):
            scaled_in_model = True
            break
        if kind in _WEIGHTED:
            break
    takes_ids = first_kind in ("Embedding", "IntegerLookup", "StringLookup", "CategoryEncoding")
    if not scaled_in_model and not takes_ids:
        if not np.issubdtype(x.dtype, np.floating):
            out.append(_finding(
                Symptom.UNSCALED_INPUTS,
                f"The inputs are {x.dtype} values, not floats: raw integer features such as "
                "pixel intensities are far from the unit scale the initialisers assume.",
                ["convert to float32 and scale, e.g. x / 255.0 or standardise",
                 "or add keras.layers.Rescaling as the first layer"],
                evidence={"dtype": str(x.dtype)},
            ))
        elif x.size:
            sample = np.abs(x.reshape(len(x), -1)[:4096].astype(np.float64))
            p99 = float(np.percentile(sample, 99))
            if p99 > t.max_input_abs:
                out.append(_finding(
                    Symptom.UNSCALED_INPUTS,
                    f"99% of the input values lie within ±{p99:.3g}, far outside [-1, 1]: the "
                    "first layer's pre-activations are huge, saturating sigmoids, killing ReLUs "
                    "and making the gradients of the first layer dominate.",
                    ["standardise the inputs (subtract the mean, divide by the std)", "or "
                     "scale to [0, 1], e.g. x / 255.0", "or add keras.layers.Normalization"],
                    evidence={"abs_p99": p99, "max": t.max_input_abs},
                ))
    return out


__all__ = ["Diagnosis", "Finding", "Symptom", "Thresholds", "check_recipe", "configure",
           "diagnose", "project_thresholds"]


# -- the ready-made spec -----------------------------------------------------------------------


def doctor_spec(*targets: Any, **overrides: Any) -> Any:
    """A spec applying every doctor check to recipes or pairs: it fails with the diagnosis when
    there is any finding (so it must catch a pair's broken side and pass its fixed side).

    Example:
        >>> test_doctor = trainspec.doctor_spec(pairs.high_learning_rate)   # doctest: +SKIP
    """
    from trainspec.pairs import applies_to

    def test_doctor(run: Any, request: Any) -> None:
        from trainspec.plugin.keys import TARGET_KEY

        target = request.node.stash.get(TARGET_KEY, None)
        recipe = target.recipe() if target is not None else None
        diagnosis = diagnose(run, recipe, **overrides)
        if diagnosis.findings:
            raise AssertionError(f"the doctor found problems in run {run.label!r}:\n{diagnosis}")

    return applies_to(*targets)(test_doctor)
