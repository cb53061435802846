"""What a mutation or a repair is: an :class:`Operator` (a named edit of a recipe), the
:class:`Mutant` it gives, and :class:`NotApplicable` when there is nothing to edit.

Example:
    >>> from trainspec.mutants import get
    >>> get("lr_x100").family
    'hyperparameters'
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from trainspec.recipe import Recipe


class NotApplicable(Exception):
    """The operator has nothing to change in this recipe."""


@dataclass(frozen=True)
class Operator:
    """One fault: ``name``, its DeepCrime ``family``, what it models, and how to plant it."""

    name: str
    family: str
    models: str
    apply: Callable[[Recipe], Recipe]

    def __call__(self, recipe: Recipe) -> Recipe:
        mutant = self.apply(recipe)
        return mutant.replace(name=f"{recipe.label}~{self.name}")


@dataclass(frozen=True)
class Mutant:
    """An operator applied to a recipe: the mutant recipe, or why the operator was skipped."""

    operator: Operator
    recipe: Recipe | None
    skipped: str | None = None

    @property
    def name(self) -> str:
        return self.operator.name
