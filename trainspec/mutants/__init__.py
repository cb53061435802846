"""Mutation operators: derive realistic broken variants from a recipe that trains well.

The operators follow DeepCrime's taxonomy of real training faults (Humbatova, Jahangirova and
Tonella, ISSTA 2021: hyperparameters, activation, weights/initialisation, loss, training data,
regularisation, optimiser).  A spec suite that *kills* a mutant (fails on it) would catch that
fault in real code; ``pytest --trainspec-mutate`` measures this for every fixed recipe of a pair.

Model-changing operators wrap the model builder: the original builder runs (after trainspec has
seeded, as usual), its Keras config is edited and rebuilt, and every weight whose layer the
operator did not re-initialise is copied from the original, so a mutant differs from the
original only by the fault it plants.  An operator that does not apply (no hidden activation, a
subclassed model...) is skipped with a reason.

``REPAIRS`` are the operators' inverses (a lower learning rate, He initialisation, ReLU for
sigmoid, clipping, logits for a logits loss, standardised inputs, unfreezing...), which
:func:`trainspec.try_fixes` applies.  One module each: ``base`` (the types), ``surgery`` (the
model edits both share), ``faults`` (``OPERATORS``), ``repairs`` (``REPAIRS``); this one looks
operators up by name and applies them.

Example:
    >>> from trainspec import mutants
    >>> for m in mutants.mutate(fixed_recipe):                 # doctest: +SKIP
    ...     print(m.operator.name, m.skipped or m.recipe.label)
"""

from __future__ import annotations

from trainspec.mutants.base import Mutant, NotApplicable, Operator
from trainspec.mutants.faults import OPERATORS, stop_gradient_class
from trainspec.mutants.repairs import REPAIRS
from trainspec.recipe import Recipe

_BY_NAME = {op.name: op for op in (*OPERATORS, *REPAIRS)}


def get(name: str) -> Operator:
    """The operator called ``name``."""
    try:
        return _BY_NAME[name]
    except KeyError:
        raise KeyError(f"no mutation operator {name!r}; known: {', '.join(_BY_NAME)}") from None


def apply(operator: Operator | str, recipe: Recipe) -> Mutant:
    """Apply one operator; a :class:`Mutant` with ``skipped`` set when it does not apply."""
    op = get(operator) if isinstance(operator, str) else operator
    stop_gradient_class()
    try:
        return Mutant(op, op(recipe))
    except NotApplicable as exc:
        return Mutant(op, None, skipped=str(exc))


def mutate(recipe: Recipe, operators: tuple[Operator, ...] | None = None) -> list[Mutant]:
    """Every operator applied to ``recipe`` (builds the model to check what applies)."""
    return [apply(op, recipe) for op in (operators or OPERATORS)]


__all__ = ["Mutant", "NotApplicable", "OPERATORS", "Operator", "REPAIRS", "apply", "get", "mutate"]
