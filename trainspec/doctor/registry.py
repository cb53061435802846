"""Runs the doctor: the static checks of the recipe, every rule of :data:`~trainspec.doctor.rules.RULES`
on the run, then merges and orders what they found into a :class:`Diagnosis`.

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

#: Findings are listed in this order: causes read off the recipe, then the run's mechanisms
#: from the most fundamental, then the outcomes they lead to.
ORDER = (
    Symptom.PROBABILITIES_AS_LOGITS, Symptom.LOGITS_AS_PROBABILITIES, Symptom.UNSCALED_INPUTS,
    Symptom.LINEAR_MODEL, Symptom.EXCESSIVE_DROPOUT, Symptom.NON_FINITE,
    Symptom.EXPLODING_GRADIENT, Symptom.DIVERGING_LOSS, Symptom.BAD_INITIAL_LOSS,
    Symptom.VANISHING_GRADIENT, Symptom.UNCHANGED_WEIGHTS, Symptom.DEAD_UNITS,
    Symptom.SATURATED_UNITS, Symptom.UPDATE_RATIO_OUT_OF_RANGE, Symptom.OSCILLATING_LOSS,
    Symptom.LOSS_NOT_DECREASING, Symptom.SLOW_CONVERGENCE, Symptom.ACCURACY_AT_CHANCE,
    Symptom.OVERFITTING,
)


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
    unique.sort(key=lambda f: ORDER.index(f.symptom))
    return Diagnosis(label=run.label, findings=unique, thresholds=t)
