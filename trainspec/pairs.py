"""Broken/fixed pairs, sweeps, and ``applies_to`` which parametrises a spec over them.

A spec applied to a pair runs once per variant: it must fail on ``broken`` (the spec *catches*
the bug) and pass on ``fixed``.  A spec applied to a sweep runs once per point and the report
tabulates the points.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any

import pytest
from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from trainspec.constants import Variant
from trainspec.exceptions import BuildError
from trainspec.recipe import Recipe

RecipeSource = Recipe | Callable[[], Recipe]

MARKER = "trainspec_targets"
_NAME = re.compile(r"^[A-Za-z0-9_.=+-]+$")


def _check_name(value: str) -> str:
    if not _NAME.match(value):
        raise ValueError(
            f"{value!r} is not a usable name: use letters, digits and _ . = + - (it becomes part "
            "of pytest node ids)"
        )
    return value


def _check_source(value: Any) -> Any:
    if isinstance(value, Recipe) or callable(value):
        return value
    raise ValueError(
        f"must be a trainspec.Recipe or a zero-argument function returning one, got "
        f"{type(value).__name__}"
    )


def resolve(source: RecipeSource, what: str) -> Recipe:
    """The recipe of a pair side or sweep point, calling a factory when one was given."""
    if isinstance(source, Recipe):
        return source
    try:
        recipe = source()
    except Exception as exc:
        raise BuildError(f"{what}: the recipe factory raised {type(exc).__name__}: {exc}") from None
    if not isinstance(recipe, Recipe):
        raise BuildError(f"{what}: the recipe factory returned {type(recipe).__name__}, not a Recipe")
    return recipe


class Pair(BaseModel):
    """A model that fails to train and its fix, for specs to tell apart.

    ``broken`` and ``fixed`` are recipes, or zero-argument functions returning recipes (built
    when a spec first needs them).  ``cause`` and ``fix`` are shown in the report.

    Example:
        >>> import trainspec
        >>> pair = trainspec.Pair("high_lr", broken=lambda: base.replace(learning_rate=10.0),
        ...     fixed=lambda: base, cause="learning rate 10 overshoots", fix="use 0.01")
        >>> pair.name
        'high_lr'
    """

    model_config = ConfigDict(arbitrary_types_allowed=True, frozen=True, extra="forbid")

    name: str
    broken: Any
    fixed: Any
    cause: str = Field(default="", description="What is wrong with the broken recipe.")
    fix: str = Field(default="", description="What the fixed recipe changes.")
    lesson: str = Field(default="", description="Where this comes from in the curriculum.")
    alias: str = Field(default="", description="The pair's name in the course material, shown "
                       "beside its name in the report (e.g. 'Fail1').")

    def __init__(self, name: str | None = None, /, **data: Any):
        if name is not None:
            data["name"] = name
        super().__init__(**data)

    @field_validator("name")
    @classmethod
    def _valid_name(cls, value: str) -> str:
        return _check_name(value)

    @field_validator("broken", "fixed")
    @classmethod
    def _valid_source(cls, value: Any) -> Any:
        return _check_source(value)

    def recipe(self, variant: Variant | str) -> Recipe:
        """The recipe of one side, ``"broken"`` or ``"fixed"``."""
        variant = Variant(variant)
        return resolve(getattr(self, variant.value), f"pair {self.name!r} ({variant})")


class Sweep(BaseModel):
    """A family of recipes differing in one setting, e.g. the learning rate.

    Give ``base`` + ``over`` (a Recipe field) + ``values``, or ``recipes`` keyed by label.

    Example:
        >>> sweep = trainspec.Sweep("lr", base=recipe, over="learning_rate",
        ...                         values=[0.1, 0.01, 0.001, 0.0001])   # doctest: +SKIP
    """

    model_config = ConfigDict(arbitrary_types_allowed=True, frozen=True, extra="forbid")

    name: str
    base: Any = None
    over: str | None = None
    values: tuple[Any, ...] = ()
    recipes: Mapping[str, Any] = Field(default_factory=dict)

    def __init__(self, name: str | None = None, /, **data: Any):
        if name is not None:
            data["name"] = name
        super().__init__(**data)

    @field_validator("name")
    @classmethod
    def _valid_name(cls, value: str) -> str:
        return _check_name(value)

    @model_validator(mode="after")
    def _check(self) -> Sweep:
        if self.recipes:
            if self.base is not None or self.values:
                raise ValueError("give recipes, or base + over + values, not both")
            for label, source in self.recipes.items():
                _check_name(str(label))
                _check_source(source)
            return self
        if self.base is None or self.over is None or not self.values:
            raise ValueError("a sweep needs recipes={label: recipe}, or base, over and values")
        _check_source(self.base)
        if isinstance(self.base, Recipe) and self.over not in Recipe.model_fields:
            raise ValueError(f"over={self.over!r} is not a Recipe field")
        return self

    def points(self) -> list[tuple[str, RecipeSource]]:
        """``(label, recipe source)`` for every point of the sweep, in order."""
        if self.recipes:
            return list(self.recipes.items())
        base, over = self.base, self.over

        def point(value: Any) -> Callable[[], Recipe]:
            return lambda: resolve(base, f"sweep {self.name!r}").replace(**{over: value})

        return [(f"{over}={_label(v)}", point(v)) for v in self.values]


def _label(value: Any) -> str:
    text = value if isinstance(value, str) else repr(value)
    return re.sub(r"[^A-Za-z0-9_.+-]", "_", text)


@dataclass(frozen=True)
class Target:
    """One run a spec is applied to: a pair side, a sweep point or a lone recipe."""

    kind: str  # "pair", "sweep" or "recipe"
    group: str  # the pair or sweep name (the recipe label for lone recipes)
    variant: str  # "broken"/"fixed", the sweep point label, or "recipe"
    source: Any
    owner: Any = None  # the Pair or Sweep

    @property
    def id(self) -> str:
        return self.variant if self.kind == "recipe" else f"{self.group}-{self.variant}"

    def recipe(self) -> Recipe:
        return resolve(self.source, f"{self.kind} {self.group!r} ({self.variant})")


def targets_of(items: Iterable[Any]) -> list[Target]:
    """Expand pairs, sweeps and recipes into the runs a spec is applied to."""
    out: list[Target] = []
    for item in items:
        if isinstance(item, Pair):
            for variant in Variant:
                out.append(Target("pair", item.name, variant.value, getattr(item, variant.value), item))
        elif isinstance(item, Sweep):
            for label, source in item.points():
                out.append(Target("sweep", item.name, label, source, item))
        elif isinstance(item, Recipe):
            out.append(Target("recipe", item.label, _check_name(_label(item.label)), item))
        else:
            raise TypeError(
                f"applies_to() takes Pair, Sweep or Recipe objects, got {type(item).__name__}"
            )
    return out


def applies_to(*items: Pair | Sweep | Recipe | Iterable[Pair | Sweep | Recipe]) -> Any:
    """Apply a spec to pairs, sweeps or recipes; the spec takes a ``run`` argument.

    Example:
        >>> @trainspec.applies_to(pairs.sigmoid_vanishing, pairs.high_lr)   # doctest: +SKIP
        ... def test_first_layer_learns(run):
        ...     assert run.layers.first.grad_norm.median() > 1e-4
    """
    flat: list[Any] = []
    for item in items:
        if isinstance(item, (Pair, Sweep, Recipe)):
            flat.append(item)
        else:
            flat.extend(item)
    targets_of(flat)  # validate now, at import time of the spec module
    return getattr(pytest.mark, MARKER)(*flat)
