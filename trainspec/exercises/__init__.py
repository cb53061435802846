"""Exercises: broken models a student fixes until their specs turn green.

``trainspec exercises init DIR`` writes a workspace (see :mod:`trainspec.exercises.workspace`)
from the shipped :func:`catalog`; a teacher builds their own with :class:`Exercise` from any
:class:`~trainspec.Pair` and :func:`~trainspec.exercises.workspace.init`.  In a workspace the
pytest plugin runs in student mode (:mod:`trainspec.plugin.student`) and writes a Gradescope
``results.json``.

Example::

    from trainspec.exercises import catalog, workspace
    workspace.init("class", catalog(), with_solutions=True)
"""

from trainspec.exercises.catalog import catalog, get
from trainspec.exercises.exercise import Exercise, ExerciseError, recipe_of, training_differences
from trainspec.exercises.workspace import MANIFEST, WorkspaceError, init

__all__ = ["Exercise", "ExerciseError", "MANIFEST", "WorkspaceError", "catalog", "get", "init",
           "recipe_of", "training_differences"]
