"""``try_fixes``: apply the repairs the doctor's findings suggest to copies of a recipe, retrain
each and say which one made the run healthy, with before/after figures.

Each finding's family maps to repairs from :data:`trainspec.mutants.REPAIRS` (the inverses of
the mutation operators): the primary cause's repairs are tried first.  A trial is *healthy* when
the doctor finds nothing in the retrained run and its loss fell by at least ``min_decrease``.
Runs go through :func:`trainspec.train`, so they are memoised and disk-cached like any other.

Example:
    >>> for trial in trainspec.try_fixes(pairs.high_learning_rate.recipe("broken")):  # doctest: +SKIP
    ...     print(trial.fix.words, trial.healthy)
    lower the learning rate 10x (learning_rate: 1.0 -> 0.1) True
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

from trainspec.doctor.registry import diagnose
from trainspec.doctor.symptoms import Diagnosis, Finding, Symptom

#: Repairs (names in ``trainspec.mutants.REPAIRS``) for each symptom, most likely first.
REPAIRS_FOR: dict[Symptom, tuple[str, ...]] = {
    Symptom.LEARNING_RATE_TOO_HIGH: ("lr_default", "lr_div_10"),
    Symptom.DIVERGING_LOSS: ("lr_div_10", "clipnorm"),
    Symptom.OSCILLATING_LOSS: ("lr_div_10",),
    Symptom.NON_FINITE: ("clipnorm", "lr_div_10"),
    Symptom.EXPLODING_GRADIENT: ("clipnorm", "lr_div_10"),
    Symptom.SLOW_CONVERGENCE: ("lr_x10", "lr_default"),
    Symptom.VANISHING_GRADIENT: ("relu_he",),
    Symptom.SATURATED_UNITS: ("relu_he", "standardise_inputs"),
    Symptom.SHRINKING_ACTIVATIONS: ("he_init",),
    Symptom.COLLAPSED_REPRESENTATIONS: ("selu_lecun",),
    Symptom.SYMMETRIC_INITIALISATION: ("glorot_init", "he_init"),
    Symptom.BAD_INITIAL_LOSS: ("glorot_init",),
    Symptom.UNCHANGED_WEIGHTS: ("he_init", "unfreeze"),
    Symptom.FROZEN_VARIABLES: ("unfreeze",),
    Symptom.PROBABILITIES_AS_LOGITS: ("logits_output",),
    Symptom.LOGITS_AS_PROBABILITIES: ("softmax_output",),
    Symptom.OUTPUT_MISMATCH: ("crossentropy", "sigmoid_bce"),
    Symptom.REGRESSION_LOSS_ON_CLASSES: ("crossentropy",),
    Symptom.OFF_CENTRE_ACTIVATIONS: ("relu_he",),
    Symptom.UNSCALED_INPUTS: ("standardise_inputs",),
    Symptom.EXCESSIVE_DROPOUT: ("dropout_02",),
    Symptom.LINEAR_MODEL: ("add_relu",),
    Symptom.OVERFITTING: ("early_stopping",),
    Symptom.GENERALISATION_GAP: ("early_stopping",),
    Symptom.ILL_CONDITIONED: ("momentum", "standardise_inputs"),
    Symptom.BOTTLENECK: ("widen",),
}


def repairs_for(finding: Finding) -> tuple[str, ...]:
    """The repairs worth trying for one finding (its direction and family decide)."""
    if finding.symptom is Symptom.UPDATE_RATIO_OUT_OF_RANGE:
        if finding.evidence.get("direction") == "too large":
            return ("lr_div_10",)
        return ("lr_default", "lr_x10") if finding.strength > 0 else ()
    if finding.symptom is Symptom.DEAD_UNITS:
        if finding.family == "initialisation":
            return ("he_zero_bias", "he_init")
        return ("leaky_relu", "lr_div_10")
    return REPAIRS_FOR.get(finding.symptom, ())


@dataclass(frozen=True)
class Fix:
    """One repair: its operator ``name``, what it does in ``words``, and the recipe ``diff``
    (field -> (before, after); model and data changes are described, not dumped)."""

    name: str
    words: str
    diff: dict[str, tuple[Any, Any]] = field(default_factory=dict)

    def __str__(self) -> str:
        changes = "; ".join(f"{k}: {_short(a)} -> {_short(b)}" for k, (a, b) in self.diff.items())
        return f"{self.words} ({changes})" if changes else self.words


@dataclass
class Trial:
    """A repair tried: the ``fix``, the repaired ``recipe``, its ``run`` and ``diagnosis`` (None
    when it could not be applied or trained: ``error`` says why), and the figures before/after."""

    fix: Fix
    recipe: Any = None
    run: Any = None
    diagnosis: Diagnosis | None = None
    error: str | None = None
    before: dict[str, float | None] = field(default_factory=dict)
    after: dict[str, float | None] = field(default_factory=dict)

    @property
    def healthy(self) -> bool:
        """The doctor finds nothing in the retrained run and its loss fell."""
        if self.run is None or self.diagnosis is None or not self.diagnosis.healthy:
            return False
        return bool(self.after.get("loss_decrease") is not None and self.after["loss_decrease"]
                    >= self.diagnosis.thresholds.min_decrease)

    def to_json(self) -> dict[str, Any]:
        return {"fix": self.fix.name, "words": str(self.fix), "healthy": self.healthy,
                "error": self.error, "before": self.before, "after": self.after,
                "findings": [str(s) for s in self.diagnosis.symptoms] if self.diagnosis else None}


def _short(value: Any) -> str:
    text = repr(value) if not isinstance(value, str) else value
    return text if len(text) <= 60 else text[:57] + "..."


def figures(run: Any) -> dict[str, float | None]:
    """Loss at start and end (medians of a tenth), its relative decrease, final accuracy."""
    loss = np.asarray(run.loss, dtype=np.float64)
    finite = loss[np.isfinite(loss)]
    if not len(finite) or not run.finite:
        return {"loss_start": float(finite[0]) if len(finite) else None, "loss_end": None,
                "loss_decrease": None, "accuracy": None}
    w = max(1, len(loss) // 10)
    start, end = float(np.median(loss[:w])), float(np.median(loss[-w:]))
    acc = next((float(np.median(np.asarray(s)[-w:])) for k, s in run.metrics.items()
                if "acc" in k.lower()), None)
    return {"loss_start": start, "loss_end": end,
            "loss_decrease": 1 - end / start if start > 0 else None, "accuracy": acc}


def _diff(before: Any, after: Any, words: str) -> dict[str, tuple[Any, Any]]:
    out: dict[str, tuple[Any, Any]] = {}
    for name in ("learning_rate", "optimizer", "loss", "steps", "batch_size", "eval_every"):
        a, b = getattr(before, name), getattr(after, name)
        if a != b:
            out[name] = (a, b)
    if tuple(before.callbacks) != tuple(after.callbacks):
        out["callbacks"] = ("as given", words)
    if after.model is not before.model:
        out["model"] = ("as given", words)
    if any(not np.array_equal(np.asarray(a), np.asarray(b))
           for a, b in zip(before.data, after.data, strict=True)):
        out["data"] = ("as given", words)
    return out


def candidate_repairs(diagnosis: Diagnosis) -> list[str]:
    """Repairs for the primary cause first, then for the other findings, without repeats."""
    names: list[str] = []
    for finding in diagnosis.findings:
        for name in repairs_for(finding):
            if name not in names:
                names.append(name)
    return names


#: Repairs that set the learning rate: alternatives to each other, never composed.
RATE_REPAIRS = frozenset({"lr_default", "lr_div_10", "lr_x10"})


def _trial(recipe: Any, base: Any, names: list[str], words: list[str], before: dict[str, Any],
           overrides: dict[str, Any]) -> Trial:
    """Train ``recipe`` (``base`` repaired by ``names``) and judge it."""
    import trainspec

    fix = Fix("+".join(names), "; then ".join(words), _diff(base, recipe, "; then ".join(words)))
    try:
        run = trainspec.train(recipe)
    except Exception as exc:  # a repair that cannot train is reported, not raised
        return Trial(fix, recipe, error=f"{type(exc).__name__}: {exc}", before=before)
    return Trial(fix, recipe, run, diagnose(run, recipe, **overrides), before=before,
                 after=figures(run))


def try_fixes(recipe: Any, diagnosis: Diagnosis | None = None, *, max_trials: int = 3,
              rounds: int = 2, **overrides: Any) -> list[Trial]:
    """Apply the repairs the diagnosis suggests to copies of ``recipe``, retrain each, and
    return the trials (the primary cause's repairs first; at most ``max_trials`` trained a
    round).

    A recipe often has two faults (a learning rate far too high on a badly initialised deep
    net): when no trial of a round is healthy, the next round starts from the trial whose loss
    fell most and applies the repairs *its* findings suggest on top (never a second
    learning-rate repair: those are alternatives), up to ``rounds`` rounds.

    Example:
        >>> trials = trainspec.try_fixes(recipe)              # doctest: +SKIP
        >>> best = next((t for t in trials if t.healthy), None)
        >>> print(best.fix, best.before["loss_end"], "->", best.after["loss_end"])
    """
    import trainspec
    from trainspec import mutants

    if diagnosis is None:
        diagnosis = diagnose(trainspec.train(recipe), recipe, **overrides)
    before = figures(trainspec.train(recipe))
    trials: list[Trial] = []
    start, names, words = recipe, [], []
    for _ in range(max(1, rounds)):
        trained = 0
        for name in candidate_repairs(diagnosis):
            if trained >= max_trials:
                break
            if name in names or (name in RATE_REPAIRS and RATE_REPAIRS & set(names)):
                continue
            operator = mutants.get(name)
            mutant = mutants.apply(operator, start)
            if mutant.recipe is None:
                continue  # the repair does not apply to this recipe (nothing to change)
            repaired = mutant.recipe.replace(name=f"{recipe.label}+{'+'.join([*names, name])}")
            trials.append(_trial(repaired, recipe, [*names, name], [*words, operator.models],
                                 before, overrides))
            trained += trials[-1].run is not None
            if trials[-1].healthy:
                return trials
        # the next round builds on the trial that helped most (its loss fell the most)
        helped = [t for t in trials if t.diagnosis is not None and t.fix.name.count("+") ==
                  len(names) and t.after.get("loss_decrease") is not None]
        if not helped:
            break
        best = max(helped, key=lambda t: t.after["loss_decrease"])
        start, diagnosis = best.recipe, best.diagnosis
        names, words = best.fix.name.split("+"), best.fix.words.split("; then ")
    return trials
