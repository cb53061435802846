"""The shipped exercises: named for the course, equal to the curriculum's pairs (no drift), hints
that teach the exercise's own fix, and Exercise's validation."""

from __future__ import annotations

import ast
import re
from pathlib import Path

import numpy as np
import pytest

import examples
import trainspec
from trainspec.exercises import Exercise, catalog, checks
from trainspec.exercises.catalog import COURSE, CURRICULUM_PAIRS
from trainspec.pairs import resolve

ROOT = Path(__file__).resolve().parents[2]
PAIRS = {p.name: p for p in examples.PAIRS}


def test_the_five_course_failures_and_five_more_are_shipped():
    names = [e.name for e in catalog()]
    assert names[:5] == ["fail1_learning_rate", "fail2_sigmoid", "fail3_weight_init",
                         "fail4_input_noise", "fail5_softmax_logits"]
    assert len(names) >= 10 and len(set(names)) == len(names)
    for i, exercise in enumerate(catalog()[:5], start=1):
        assert f"Fail{i}" in exercise.title and f"Fail{i}" in exercise.lesson
        assert f"Fail{i}" in exercise.task  # the student's module names it too
    assert set(CURRICULUM_PAIRS) == set(names)


@pytest.mark.parametrize("name", list(CURRICULUM_PAIRS))
def test_exercise_trains_exactly_what_its_curriculum_pair_trains(name):
    # The guarantee that exercises and curriculum cannot drift apart: the student's module is
    # the pair's broken recipe and the solution its fixed recipe (data, settings, layers,
    # initial weights, custom step), so a change on either side fails here.
    exercise = trainspec.exercises.get(name)
    assert exercise.drift(PAIRS[CURRICULUM_PAIRS[name]]) == []


def test_drift_names_what_differs():
    exercise = trainspec.exercises.get("fail2_sigmoid")
    differences = exercise.drift(PAIRS["bad_init"])
    assert any("learning_rate: 0.05 != 0.1" in d for d in differences)
    assert any("model" in d for d in differences)


def test_the_pair_of_a_shipped_exercise_is_built_from_its_files():
    exercise = trainspec.exercises.get("fail1_learning_rate")
    broken, fixed = exercise.pair.recipe("broken"), exercise.pair.recipe("fixed")
    assert (broken.learning_rate, fixed.learning_rate) == (1.0, 0.05)
    assert exercise.pair.cause and exercise.pair.fix


# -- hints teach the exercise's own fix -----------------------------------------------------------

#: Advice topics, and the recipe part each one asks the student to change.
TOPICS = {
    "learning_rate": (r"learning rate|step size", "learning_rate"),
    "clipping": (r"\bclip", "optimizer"),
    "optimizer": (r"\badam\b|rmsprop|momentum|another optimizer", "optimizer"),
    "data": (r"\bnoise\b|trains? on|training data|normali[sz]e the (data|inputs|pixels)", "data"),
    "activation": (r"activation|relu|sigmoid|\belu\b|non-linearity", "model"),
    "initialisation": (r"initiali[sz]|he_normal|glorot|starting weights?", "model"),
    "architecture": (r"hidden layers? of|\d+ units|more units|fewer hidden layers", "model"),
    "output": (r"last layer|logits", "model"),
    "normalisation": (r"batchnormali[sz]ation|batch normali[sz]ation", "model"),
}


def changed_parts(exercise: Exercise) -> set[str]:
    """What the solution changes in the student's recipe: read from the two recipes."""
    start, solution = exercise.pair.recipe("broken"), exercise.pair.recipe("fixed")
    parts = set()
    if start.learning_rate != solution.learning_rate:
        parts.add("learning_rate")
    if start.optimizer != solution.optimizer:
        parts.add("optimizer")
    if not all(np.array_equal(a, b) for a, b in zip(start.data, solution.data, strict=True)):
        parts.add("data")
    import inspect

    if inspect.getsource(start.model) != inspect.getsource(solution.model):
        parts.add("model")
    return parts


def topics(text: str) -> set[str]:
    return {name for name, (pattern, _) in TOPICS.items() if re.search(pattern, text, re.I)}


@pytest.mark.parametrize("exercise", catalog(), ids=lambda e: e.name)
def test_no_hint_points_away_from_the_fix(exercise):
    changed = changed_parts(exercise)
    assert changed, "the solution must change something"
    for hint in exercise.hints:
        for topic in topics(hint):
            part = TOPICS[topic][1]
            assert part in changed, (
                f"{exercise.name}: hint {hint!r} points at the {part} ({topic}), which the "
                f"solution does not change (it changes {sorted(changed)})"
            )
    last = topics(exercise.hints[-1])
    assert {TOPICS[t][1] for t in last} & changed, "the last hint must name what to change"


def test_the_sigmoid_exercise_teaches_activation_choice():
    exercise = trainspec.exercises.get("fail2_sigmoid")
    assert all("learning rate" not in h.lower() for h in exercise.hints)
    assert "activation" in topics(exercise.hints[-1])
    assert "activation" in exercise.change


@pytest.mark.parametrize("exercise", catalog(), ids=lambda e: e.name)
def test_hints_never_contain_the_solution(exercise):
    solution_lines = {ln.strip() for ln in exercise.solution.splitlines()
                      if ln.strip() and ln.strip() not in exercise.source}
    for hint in exercise.hints:
        for line in solution_lines:
            assert line not in hint


# -- the files ------------------------------------------------------------------------------


@pytest.mark.parametrize("exercise", catalog(), ids=lambda e: e.name)
def test_spec_file_is_plain_pytest(exercise):
    text = exercise.spec_text(3)
    tree = ast.parse(text)
    functions = [n.name for n in tree.body if isinstance(n, ast.FunctionDef)]
    assert functions == ["recipe", *exercise.spec_names()]
    assert f"import {exercise.name}" in text
    assert "examples" not in text  # the workspace has no curriculum package


def test_course_files_are_package_data():
    tomllib = pytest.importorskip("tomllib")
    config = tomllib.loads((ROOT / "pyproject.toml").read_text())
    patterns = config["tool"]["setuptools"]["package-data"]["trainspec.exercises"]
    package = ROOT / "trainspec" / "exercises"
    shipped = {p for pattern in patterns for p in package.glob(pattern)}
    for exercise in catalog():
        for kind in ("start", "solution"):
            assert COURSE / kind / f"{exercise.name}.py" in shipped


# -- authoring ------------------------------------------------------------------------------


def _pair():
    return next(iter(PAIRS.values()))


def test_exercise_needs_the_students_module_text():
    with pytest.raises(ValueError, match="give source="):
        Exercise(_pair(), hints=["h"], specs=[checks.test_loss_halves], solution="recipe = 1")


def test_exercise_checks_specs_hints_and_name():
    fields = dict(source="recipe = 1\n", solution="recipe = 2\n")
    with pytest.raises(ValueError, match="at least one hint"):
        Exercise(_pair(), hints=[], specs=[checks.test_loss_halves], **fields)
    with pytest.raises(ValueError, match="must be named test_"):
        Exercise(_pair(), hints=["h"], specs=[resolve], **fields)
    with pytest.raises(ValueError, match="cannot be a module name"):
        Exercise(_pair(), name="my-exercise", hints=["h"], specs=[checks.test_loss_halves],
                 **fields)
    with pytest.raises(ValueError, match="must assign `recipe"):
        Exercise(_pair(), hints=["h"], specs=[checks.test_loss_halves], source="x = 1\n",
                 solution="recipe = 2\n")
