"""The doctor: name what went wrong in a run, where, why, and what to change.

``diagnose(run)`` reads a finished :class:`~trainspec.Run` and returns a :class:`Diagnosis`: a
list of :class:`Finding`\\ s, each a :class:`Symptom` from a fixed vocabulary with the layer and
step where it shows, the numbers that crossed the threshold, a paragraph of explanation and
concrete fixes pointing at the curriculum pair that shows the same problem.  Given the recipe
(``diagnose(run, recipe=recipe)``) it also runs the static checks that need no training.

Layout: ``symptoms`` (the vocabulary and the answers), ``thresholds`` (every number compared
against, with its source), ``evidence`` (measurements the rules share), ``rules/`` (one module
per symptom family), ``static`` (checks of the recipe before training), ``registry`` (runs the
rules and ranks the findings: ``Diagnosis.primary`` is the cause), ``repair`` (:func:`try_fixes`),
``spec`` (:func:`doctor_spec`).  TensorFlow is imported only by
the static checks (to build the model), never by importing this package.

Example:
    >>> run = trainspec.train(recipe)                     # doctest: +SKIP
    >>> print(trainspec.diagnose(run, recipe))            # doctest: +SKIP
"""

from __future__ import annotations

from trainspec.doctor.registry import diagnose
from trainspec.doctor.repair import Fix, Trial, try_fixes
from trainspec.doctor.spec import doctor_spec
from trainspec.doctor.static import check_recipe
from trainspec.doctor.symptoms import RISKS, STATIC, Diagnosis, Finding, Symptom
from trainspec.doctor.thresholds import Thresholds, configure, parse_lines, project_thresholds

__all__ = ["RISKS", "STATIC", "Diagnosis", "Finding", "Fix", "Symptom", "Thresholds", "Trial",
           "check_recipe", "configure", "diagnose", "doctor_spec", "parse_lines",
           "project_thresholds", "try_fixes"]
