"""Broken/fixed pairs, sweeps, and ``applies_to`` which parametrises a spec over them.

A spec applied to a pair runs once per variant: it must fail on ``broken`` (the spec *catches*
the bug) and pass on ``fixed``.  A spec applied to a sweep runs once per point and the report
tabulates the points.
"""

from __future__ import annotations

import inspect
import re
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np
import pytest
from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    ValidationError,
    field_validator,
    model_validator,
)

from trainspec.constants import Variant
from trainspec.exceptions import BuildError, RecipeError, SpecError
from trainspec.recipe import Recipe

RecipeSource = Recipe | Callable[[], Recipe]

MARKER = "trainspec_targets"
_NAME = re.compile(r"^[A-Za-z0-9_.=+-]+$")
#: Names become folder names (TensorBoard runs, reports): keep them well under NAME_MAX.
MAX_NAME = 100


def _check_name(value: str) -> str:
    """A pair, sweep or point name: it becomes part of node ids and of file paths.

    Example:
        >>> _check_name("..")
        Traceback (most recent call last):
        ...
        ValueError: '..' is not a usable name: ...
    """
    if not _NAME.match(value):
        raise ValueError(
            f"{value!r} is not a usable name: use letters, digits and _ . = + - (it becomes part "
            "of pytest node ids)"
        )
    if set(value) == {"."}:
        raise ValueError(
            f"{value!r} is not a usable name: a name of dots only would be read as a folder "
            "('.' or '..') where trainspec writes files; add a letter or digit"
        )
    if len(value) > MAX_NAME:
        raise ValueError(f"{value[:20]!r}... is {len(value)} characters long; use at most {MAX_NAME}")
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

    @model_validator(mode="after")
    def _two_sides(self) -> Pair:
        if _same_source(self.broken, self.fixed):
            raise ValueError(
                f"pair {self.name!r}: broken and fixed are the same recipe, so no spec can tell "
                "them apart; change what the broken recipe gets wrong"
            )
        return self

    def recipe(self, variant: Variant | str) -> Recipe:
        """The recipe of one side, ``"broken"`` or ``"fixed"``."""
        variant = Variant(variant)
        return resolve(getattr(self, variant.value), f"pair {self.name!r} ({variant})")


class Sweep(BaseModel):
    """A family of recipes differing in one setting, e.g. the learning rate.

    Give ``base`` + ``over`` (a Recipe field) + ``values``, or ``recipes`` keyed by label.
    ``columns`` (optional) gives each point's settings as the report's table shows them, in
    place of the label: ``{label: {"n_hidden_1": 128, "optimizer": "sgd"}, ...}``.

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
    columns: Mapping[str, Mapping[str, Any]] = Field(default_factory=dict)

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
            if self.base is not None or self.values or self.over is not None:
                raise ValueError("give recipes, or base + over + values, not both")
            for label, source in self.recipes.items():
                if not isinstance(label, str):
                    raise ValueError(f"recipes labels must be strings, got {label!r}")
                _check_name(label)
                _check_source(source)
            return self
        if self.base is None or self.over is None or not self.values:
            raise ValueError("a sweep needs recipes={label: recipe}, or base, over and values")
        _check_source(self.base)
        if self.over not in Recipe.model_fields or self.over == "name":
            raise ValueError(
                f"over={self.over!r} is not a Recipe field a sweep can vary; use one of "
                f"{', '.join(f for f in Recipe.model_fields if f != 'name')}"
            )
        labels = [f"{self.over}={_label(v)}" for v in self.values]
        for label in labels:
            _check_name(label)
        twice = sorted({label for label in labels if labels.count(label) > 1})
        if twice:
            raise ValueError(
                f"two values of the sweep get the label {twice[0]!r}, so their results would "
                "merge; give distinct values"
            )
        if isinstance(self.base, Recipe):  # a point that cannot be a recipe: say so now
            for value in self.values:
                try:
                    self.base.replace(**{self.over: value})
                except ValidationError as exc:
                    first = exc.errors()[0]
                    raise ValueError(
                        f"{self.over}={value!r} does not make a valid recipe: {first['msg']}"
                    ) from None
        return self

    @model_validator(mode="after")
    def _check_columns(self) -> Sweep:
        if not self.columns:
            return self
        labels = [label for label, _ in self.points()]
        unknown = sorted(set(self.columns) - set(labels))
        missing = [label for label in labels if label not in self.columns]
        if unknown or missing:
            raise ValueError(
                "columns must give every point of the sweep, by its label: "
                + (f"no point is labelled {unknown[0]!r}" if unknown else f"{missing[0]!r} has none")
                + f" (points: {', '.join(labels)})")
        for label, row in self.columns.items():
            if not isinstance(row, Mapping) or not all(isinstance(k, str) for k in row):
                raise ValueError(f"columns[{label!r}] must map column names to values, got {row!r}")
        return self

    def points(self) -> list[tuple[str, RecipeSource]]:
        """``(label, recipe source)`` for every point of the sweep, in order."""
        if self.recipes:
            return list(self.recipes.items())
        base, over = self.base, self.over

        def point(value: Any) -> Callable[[], Recipe]:
            def build() -> Recipe:
                recipe = resolve(base, f"sweep {self.name!r}")
                try:
                    return recipe.replace(**{over: value})
                except ValidationError as exc:  # a factory's base: checked only now
                    raise RecipeError(
                        f"sweep {self.name!r}: {over}={value!r} does not make a valid recipe: "
                        f"{exc.errors()[0]['msg']}", field=over, recipe=recipe.label,
                    ) from None

            return build

        return [(f"{over}={_label(v)}", point(v)) for v in self.values]


def _label(value: Any) -> str:
    text = value if isinstance(value, str) else repr(value)
    text = re.sub(r"[^A-Za-z0-9_.+-]", "_", text)[:MAX_NAME]
    return "_" * len(text) if set(text) <= {"."} else text


def _same_source(a: Any, b: Any) -> bool:
    """True when two recipe sources are certainly the same recipe (one object, or recipes whose
    every field is the same object or equal value)."""
    if a is b:
        return True
    if not (isinstance(a, Recipe) and isinstance(b, Recipe)):
        return False
    return all(_same_value(getattr(a, f), getattr(b, f)) for f in Recipe.model_fields)


def _same_value(a: Any, b: Any) -> bool:
    if a is b:
        return True
    if isinstance(a, np.ndarray) and isinstance(b, np.ndarray):
        return a.shape == b.shape and a.dtype == b.dtype and bool(np.array_equal(a, b))
    if isinstance(a, tuple) and isinstance(b, tuple):
        return len(a) == len(b) and all(_same_value(x, y) for x, y in zip(a, b, strict=True))
    if isinstance(a, (str, int, float, type(None))) and isinstance(b, (str, int, float, type(None))):
        return a == b and type(a) is type(b)
    if isinstance(a, dict) and isinstance(b, dict):
        return a.keys() == b.keys() and all(_same_value(a[k], b[k]) for k in a)
    return False


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
    """Expand pairs, sweeps and recipes into the runs a spec is applied to.

    Raises :class:`~trainspec.exceptions.SpecError` for anything else, for an item given twice
    and for two different items that would share a name (and so one verdict)."""
    out: list[Target] = []
    seen: dict[tuple[str, str], Any] = {}
    for item in items:
        if isinstance(item, (Pair, Sweep, Recipe)):
            kind = type(item).__name__.lower()
            name = item.label if isinstance(item, Recipe) else item.name
            earlier = seen.get((kind, name))
            if earlier is item:
                raise SpecError(f"applies_to() got {kind} {name!r} twice")
            if earlier is not None:
                what = "recipes labelled" if kind == "recipe" else f"{kind}s named"
                fix = "name=" if kind == "recipe" else "names"
                raise SpecError(
                    f"applies_to() got two different {what} {name!r}: their results would share "
                    f"one verdict; give them distinct {fix}"
                )
            seen[(kind, name)] = item
        if isinstance(item, Pair):
            for variant in Variant:
                out.append(Target("pair", item.name, variant.value, getattr(item, variant.value), item))
        elif isinstance(item, Sweep):
            for label, source in item.points():
                out.append(Target("sweep", item.name, label, source, item))
        elif isinstance(item, Recipe):
            out.append(Target("recipe", item.label, _check_name(_label(item.label)), item))
        else:
            raise SpecError(
                f"applies_to() takes Pair, Sweep or Recipe objects, got {_describe(item)}"
            )
    return out


def _describe(item: Any) -> str:
    if isinstance(item, str):
        return f"the string {item!r} (pass the Pair object, not its name)"
    return f"{type(item).__name__} {item!r}"[:120]


def applies_to(*items: Pair | Sweep | Recipe | Iterable[Pair | Sweep | Recipe]) -> Any:
    """Apply a spec to pairs, sweeps or recipes; the spec takes a ``run`` argument.

    Example:
        >>> @trainspec.applies_to(pairs.sigmoid_vanishing, pairs.high_lr)   # doctest: +SKIP
        ... def test_first_layer_learns(run):
        ...     assert run.layers.first.grad_norm.median() > 1e-4
    """
    if len(items) == 1 and inspect.isfunction(items[0]) and items[0].__name__.startswith("test"):
        raise SpecError(
            f"applies_to is used without arguments on {items[0].__name__}: write "
            "@trainspec.applies_to(pair_or_recipe, ...), with what the spec applies to"
        )
    flat: list[Any] = []
    for position, item in enumerate(items, 1):
        if isinstance(item, (Pair, Sweep, Recipe)):
            flat.append(item)
        elif isinstance(item, (str, bytes, Mapping)) or not isinstance(item, Iterable):
            raise SpecError(
                f"applies_to() argument {position} is {_describe(item)}: give Pair, Sweep or "
                "Recipe objects, or lists of them"
            )
        else:
            flat.extend(item)
    if not flat:
        raise SpecError(
            "applies_to() got no pair, sweep or recipe, so the spec would test nothing; give "
            "at least one"
        )
    targets_of(flat)  # validate now, at import time of the spec module
    return getattr(pytest.mark, MARKER)(*flat)
