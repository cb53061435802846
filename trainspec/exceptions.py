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


class SpecFailure(AssertionError):
    """A spec's expectation on a run did not hold.  An ``AssertionError``, so pytest treats it as
    a test failure and a broken variant that raises it counts as *caught*."""
