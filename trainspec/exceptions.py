"""Exceptions trainspec raises.  Each message names the cause in words a user can act on."""

from __future__ import annotations


class TrainspecError(Exception):
    """Base class: something about a recipe or run that the user must fix.

    The pytest plugin shows these as a one-paragraph error with no traceback from inside
    TensorFlow or trainspec.
    """


class RecipeError(TrainspecError, ValueError):
    """A recipe cannot be turned into a training run (bad model, loss, optimizer, data...)."""

    def __init__(self, message: str, *, field: str | None = None, recipe: str | None = None):
        self.field = field
        self.recipe = recipe
        where = f"recipe {recipe!r}" if recipe else "recipe"
        prefix = f"{where}, field {field!r}: " if field else f"{where}: "
        super().__init__(prefix + message)


class BuildError(RecipeError):
    """The model builder (or a recipe factory) raised, or returned something unusable."""


class DataError(RecipeError):
    """The data does not fit the model or the loss (shapes, dtypes, non-finite values)."""


class SpecError(TrainspecError, TypeError):
    """A spec's declaration cannot be used: ``applies_to`` given something that is not a pair,
    sweep or recipe, nothing at all, two different pairs of one name, or a spec without a
    ``run`` argument.  A ``TypeError``, as a wrong argument to a decorator is."""


class TrainspecTimeout(TrainspecError):
    """A spec or a run did not finish within ``--trainspec-timeout`` seconds."""


class RecipeWarning(UserWarning):
    """A recipe value trainspec accepts but that is probably not what was meant (a lossy
    conversion of the data, an optimizer setting likely to diverge at the first step)."""


class SpecFailure(AssertionError):
    """A spec's expectation on a run did not hold.  An ``AssertionError``, so pytest treats it as
    a test failure and a broken variant that raises it counts as *caught*."""
