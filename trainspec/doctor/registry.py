"""Runs the doctor: the static checks of the recipe, every rule of :data:`~trainspec.doctor.rules.RULES`
on the run, then merges what they found and ranks it into a :class:`Diagnosis` whose first
finding (``Diagnosis.primary``) is the cause and whose ``consequences`` are what it explains.

Two rules keep healthy runs free of findings:

* *outcome* symptoms (the loss or accuracy did not do what training should do) are reported on
  their own; *mechanism* symptoms (update ratios) when the loss shows harm too, or when a
  hundred times past their bound; vanishing/exploding gradients, dead and saturated units use the
  published bounds, which healthy networks are far from;
* static *risks* (dropout above 0.5, inputs far outside [-1, 1]) are reported with a run only
  when the run shows some finding: ``check_recipe`` alone reports them always.

Example:
    >>> run = trainspec.train(recipe)                     # doctest: +SKIP
    >>> for finding in trainspec.diagnose(run, recipe).findings:
    ...     print(finding.symptom, finding.where, finding.fixes[0])
"""

from __future__ import annotations

from typing import Any

from trainspec.doctor.evidence import Context
from trainspec.doctor.rules import RULES
from trainspec.doctor.static import check_recipe
from trainspec.doctor.symptoms import RISKS, STATIC, Diagnosis, Finding, Symptom
from trainspec.doctor.thresholds import Thresholds, project_thresholds
from trainspec.run import Run

#: Ties in the ranking are broken in this order: causes read off the recipe, then the run's
#: mechanisms from the most fundamental, then the outcomes they lead to.
ORDER = (
    Symptom.PROBABILITIES_AS_LOGITS, Symptom.LOGITS_AS_PROBABILITIES, Symptom.OUTPUT_MISMATCH,
    Symptom.REGRESSION_LOSS_ON_CLASSES,
    Symptom.SYMMETRIC_INITIALISATION, Symptom.PREPROCESSING_MISMATCH, Symptom.UNSCALED_INPUTS,
    Symptom.LINEAR_MODEL, Symptom.EXCESSIVE_DROPOUT, Symptom.FROZEN_VARIABLES,
    Symptom.LEARNING_RATE_TOO_HIGH, Symptom.BOTTLENECK, Symptom.NON_FINITE,
    Symptom.EXPLODING_GRADIENT, Symptom.DIVERGING_LOSS, Symptom.BAD_INITIAL_LOSS,
    Symptom.VANISHING_GRADIENT, Symptom.SHRINKING_ACTIVATIONS, Symptom.COLLAPSED_REPRESENTATIONS,
    Symptom.OFF_CENTRE_ACTIVATIONS,
    Symptom.UNCHANGED_WEIGHTS,
    Symptom.DEAD_UNITS, Symptom.NO_LEARNABLE_SIGNAL,
    Symptom.SATURATED_UNITS, Symptom.UPDATE_RATIO_OUT_OF_RANGE, Symptom.OSCILLATING_LOSS,
    Symptom.LOSS_NOT_DECREASING, Symptom.SLOW_CONVERGENCE, Symptom.ACCURACY_AT_CHANCE,
    Symptom.OVERFITTING, Symptom.GENERALISATION_GAP, Symptom.ILL_CONDITIONED,
)


#: How directly a symptom names a cause: 3, a fact of the recipe (a mismatch, or a risk the run
#: shows harm from); 2, a mechanism measured in the run (gradients, units, initial scale); 1, a
#: shape of the curve or the update size that several causes produce; 0, an outcome (the loss or
#: accuracy), which says what went wrong and never why.  A finding's score is its tier plus its
#: evidence strength (0-1); the best score is the primary cause.
TIER: dict[Symptom, int] = {
    **dict.fromkeys(STATIC, 3), Symptom.LEARNING_RATE_TOO_HIGH: 3,
    **dict.fromkeys((Symptom.NON_FINITE, Symptom.EXPLODING_GRADIENT, Symptom.VANISHING_GRADIENT,
                     Symptom.SHRINKING_ACTIVATIONS, Symptom.COLLAPSED_REPRESENTATIONS,
                     Symptom.BAD_INITIAL_LOSS, Symptom.DEAD_UNITS,
                     Symptom.UNCHANGED_WEIGHTS, Symptom.SATURATED_UNITS,
                     Symptom.NO_LEARNABLE_SIGNAL, Symptom.OFF_CENTRE_ACTIVATIONS), 2),
    **dict.fromkeys((Symptom.UPDATE_RATIO_OUT_OF_RANGE, Symptom.DIVERGING_LOSS,
                     Symptom.OSCILLATING_LOSS, Symptom.SLOW_CONVERGENCE, Symptom.OVERFITTING,
                     Symptom.GENERALISATION_GAP, Symptom.ILL_CONDITIONED), 1),
    Symptom.LOSS_NOT_DECREASING: 0, Symptom.ACCURACY_AT_CHANCE: 0,
}


def score(finding: Finding) -> float:
    """The finding's rank as a cause: its symptom's tier plus its evidence strength."""
    return TIER[finding.symptom] + float(finding.strength)


def rank(findings: list[Finding]) -> tuple[list[Finding], list[Finding]]:
    """The findings, primary cause first then by score (ties in :data:`ORDER`), and the
    consequences the primary explains: every finding of a lower tier."""
    ordered = sorted(findings, key=lambda f: (-score(f), ORDER.index(f.symptom)))
    if not ordered:
        return [], []
    top = TIER[ordered[0].symptom]
    return ordered, [f for f in ordered[1:] if TIER[f.symptom] < top]


def run_rules(run: Run, recipe: Any, thresholds: Thresholds) -> list[Finding]:
    """Every rule's findings on ``run``, in the order the rules ran."""
    ctx = Context.of(run, recipe, thresholds)
    for rule in RULES:
        found = rule.check(ctx)
        ctx.found += found
        ctx.harm = ctx.harm or (rule.harm and bool(found))
    return ctx.found


def diagnose(run: Run, recipe: Any = None, *, thresholds: Thresholds | None = None,
             **overrides: Any) -> Diagnosis:
    """Diagnose a finished run; pass its ``recipe`` to add the static checks.

    Thresholds: project defaults (:func:`~trainspec.doctor.project_thresholds`), or
    ``thresholds=``, with keyword overrides on top (``diagnose(run, dead_fraction=0.9)``).

    Example:
        >>> run = trainspec.train(recipe)                     # doctest: +SKIP
        >>> for finding in trainspec.diagnose(run, recipe).findings:
        ...     print(finding.symptom, finding.where, finding.fixes[0])
    """
    t = (thresholds or project_thresholds()).updated(**overrides)
    findings: list[Finding] = []
    dynamic = run_rules(run, recipe, t)
    if recipe is not None:
        findings += [f for f in check_recipe(recipe, thresholds=t)
                     if f.symptom not in RISKS or dynamic]
    findings += dynamic
    unique: list[Finding] = []
    for f in findings:  # a static finding and its dynamic confirmation: keep the static one
        if f.symptom in STATIC and any(g.symptom is f.symptom for g in unique):
            continue
        unique.append(f)
    ordered, consequences = rank(unique)
    return Diagnosis(label=run.label, findings=ordered, thresholds=t, consequences=consequences)
