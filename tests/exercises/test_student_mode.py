"""Student mode, the hint ladder, hidden specs and results.json, on a teacher's own tiny exercise
(a Pair of small seeded recipes that train in well under a second), run with pytester."""

from __future__ import annotations

import json
import shutil
import textwrap

import pytest

import trainspec
from trainspec.exercises import checks, workspace
from trainspec.exercises.exercise import load_module

START = textwrap.dedent(
    '''
    """Make the tiny classifier learn: its loss must halve."""

    import trainspec
    from trainspec import datasets

    DATA = datasets.blobs(n=256, classes=3, seed=0)


    def build_model():
        import keras

        return keras.Sequential([keras.Input((2,)), keras.layers.Dense(8, activation="relu"),
                                 keras.layers.Dense(3, activation="softmax")])


    recipe = trainspec.Recipe(
        model=build_model, data=DATA, loss="sparse_categorical_crossentropy", optimizer="sgd",
        learning_rate=1e-5, steps=60, batch_size=32, metrics=["accuracy"], seed=0,
    )
    '''
)
SOLUTION = START.replace("learning_rate=1e-5", "learning_rate=0.1")

SPECS = textwrap.dedent(
    '''
    import pytest
    import trainspec


    @pytest.mark.trainspec(points=2, hidden=True)
    def test_secret_accuracy(run):
        """A spec the student never sees."""
        trainspec.expect(run).accuracy_above_chance(margin=0.2)
    '''
)
HINTS = ["Is the loss moving at all?", "Look at the size of the steps.",
         "Try a learning rate 10000 times larger."]


@pytest.fixture
def exercise(tmp_path):
    for name, text in (("start", START), ("solution", SOLUTION), ("secret", SPECS)):
        (tmp_path / f"{name}.py").write_text(text)
    secret = load_module(tmp_path / "secret.py")
    ex = trainspec.Exercise.from_files(
        tmp_path / "start.py", tmp_path / "solution.py", name="tiny_lr", title="A tiny step",
        hints=HINTS, specs=[checks.test_loss_halves, secret.test_secret_accuracy],
        change="the learning rate",
    )
    return ex


@pytest.fixture
def course(pytester, exercise):
    workspace.init(pytester.path, [exercise], with_solutions=True)
    return pytester


def grade(pytester) -> dict:
    return json.loads((pytester.path / "results.json").read_text())


def test_red_workspace_shows_progress_the_failure_and_the_first_hint(course):
    result = course.runpytest()
    assert result.ret == 1
    out = result.stdout.str()
    assert "0 of 1 exercise green" in out
    assert "Exercise 1 · tiny_lr · edit tiny_lr.py" in out
    assert "loss did not fall by 50%" in out and "measured" in out and "required" in out
    assert f"Hint 1 of 3: {HINTS[0]}" in out
    assert HINTS[1] not in out
    assert "In this exercise you can change: the learning rate" in out or "doctor" not in out
    # the regular report stays quiet and no strict-xfail wording appears
    assert "trainspec report" not in out and "MISSED" not in out
    # the hidden spec is graded but never shown
    assert "secret" not in out
    document = grade(course)
    assert document["score"] == 0
    hidden = [t for t in document["tests"] if t["visibility"] == "hidden"]
    assert [t["name"] for t in hidden] == ["tiny_lr › test_secret_accuracy"]
    assert hidden[0]["max_score"] == 2.0 and hidden[0]["status"] == "failed"
    check_schema(document)


def check_schema(document: dict) -> None:
    """Gradescope's results.json: a total and one entry per test with explicit status."""
    assert set(document) >= {"score", "tests", "output", "output_format", "visibility"}
    assert isinstance(document["score"], (int, float))
    for test in document["tests"]:
        assert set(test) >= {"name", "score", "max_score", "status", "output", "output_format",
                             "visibility"}
        assert test["status"] in ("passed", "failed")
        assert test["output_format"] == "md"
        assert test["visibility"] in ("visible", "hidden", "after_due_date", "after_published")
        assert 0 <= test["score"] <= test["max_score"]
    visible = next(t for t in document["tests"] if t["visibility"] == "visible")
    assert visible["output"].startswith("**Failed**: loss did not fall by 50%")
    assert "Hint:" in visible["output"]
    # never the solution: the solution's learning rate appears nowhere a student reads
    assert "0.1," not in json.dumps(document)


def test_hint_ladder_climbs_with_each_failure_and_stops_at_the_last(course):
    seen = []
    for _ in range(3):
        out = course.runpytest().stdout.str()
        seen.append(next(h for h in HINTS if f": {h}" in out))
    assert seen == HINTS
    assert "That was the last hint." in out
    progress = json.loads((course.path / ".trainspec" / "progress.json").read_text())
    assert progress["failures"] == {"tiny_lr": 3}
    # further failures stay on the last hint
    (course.path / ".trainspec" / "progress.json").write_text('{"failures": {"tiny_lr": 7}}')
    assert f"Hint 3 of 3: {HINTS[2]}" in course.runpytest().stdout.str()


def test_hint_option_jumps_to_a_level(course):
    out = course.runpytest("--trainspec-hint", "9").stdout.str()
    assert f"Hint 3 of 3: {HINTS[2]}" in out  # clamped to the ladder
    assert HINTS[0] not in out
    bad = course.runpytest("--trainspec-hint", "0")
    assert bad.ret == pytest.ExitCode.USAGE_ERROR
    assert "trainspec_hint must be a whole number >= 1" in bad.stderr.str()


def test_copying_the_solution_turns_it_green_with_full_marks(course):
    shutil.copy(course.path / "solutions" / "tiny_lr.py", course.path / "tiny_lr.py")
    result = course.runpytest()
    assert result.ret == 0
    out = result.stdout.str()
    assert "1 of 1 exercise green" in out and "Every exercise is green" in out
    document = grade(course)
    assert document["score"] == 3.0  # 1 visible point + 2 hidden
    assert {t["status"] for t in document["tests"]} == {"passed"}


def test_bad_points_are_a_usage_error_naming_the_spec(pytester):
    pytester.makepyfile(test_points=textwrap.dedent(
        """
        import pytest

        @pytest.mark.trainspec(points="two")
        def test_x():
            pass
        """
    ))
    result = pytester.runpytest("--trainspec-grade", "out.json")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    assert "test_points.py::test_x: @pytest.mark.trainspec(points=...) must be a number" in (
        result.stderr.str())


def test_grade_outside_a_workspace_keeps_the_regular_report(pytester):
    pytester.makepyfile(test_plain=textwrap.dedent(
        """
        import pytest

        @pytest.mark.trainspec(points=3)
        def test_worth_three():
            pass

        def test_fails():
            assert 1 == 2
        """
    ))
    result = pytester.runpytest("--trainspec-grade", "out.json")
    assert result.ret == 1
    assert "exercises green" not in result.stdout.str()
    document = json.loads((pytester.path / "out.json").read_text())
    assert document["score"] == 3.0
    assert [(t["name"], t["max_score"], t["status"]) for t in document["tests"]] == [
        ("plain › test_worth_three", 3.0, "passed"), ("plain › test_fails", 1.0, "failed")]


def test_student_mode_has_no_strict_xfail_for_pairs(pytester):
    from tests.conftest import TINY_SPECS

    pytester.makepyfile(test_student_pairs=TINY_SPECS + textwrap.dedent(
        """
        SAME = trainspec.Pair("same", broken=recipe(), fixed=recipe(seed=1))

        @trainspec.applies_to(SAME)
        def test_loss_halves(run):
            trainspec.expect(run).loss_to_fall_by(0.5)
        """
    ))
    # outside student mode a passing broken model is a strict XPASS (a miss); a student's fixed
    # model is simply green
    assert pytester.runpytest().ret == 1
    result = pytester.runpytest("--trainspec-student")
    assert result.ret == 0
    result.stdout.fnmatch_lines(["*1 of 1 exercise green*"])


def test_under_xdist_the_grade_is_the_same(course):
    pytest.importorskip("xdist")
    course.runpytest("--trainspec-grade", "one.json")
    course.runpytest_subprocess("-p", "no:cacheprovider", "-n", "2",
                                "--trainspec-grade", "two.json")

    def essentials(name):
        document = json.loads((course.path / name).read_text())
        return document["score"], [(t["name"], t["score"], t["status"], t["visibility"])
                                   for t in document["tests"]]

    assert essentials("one.json") == essentials("two.json")
    assert essentials("one.json")[1]  # not empty


def test_a_module_that_does_not_import_fails_its_own_specs_readably(course):
    (course.path / "tiny_lr.py").write_text("recipe = (\n")
    result = course.runpytest()
    assert result.ret == 1
    out = result.stdout.str()
    assert "Exercise 1 · tiny_lr" in out and "SyntaxError" in out
    document = grade(course)
    assert len(document["tests"]) == 2  # still graded, each spec failed
    assert {t["status"] for t in document["tests"]} == {"failed"}
