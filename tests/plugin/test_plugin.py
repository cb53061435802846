"""The pytest plugin end to end (pytester, in process): outcomes, exit codes, report, JSON,
and bad input."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap

import pytest

HEADER = textwrap.dedent(
    """
    import numpy as np
    import pytest
    import trainspec
    from trainspec import datasets

    DATA = datasets.blobs(n=512, classes=3, seed=0)

    def mlp(activation="relu"):
        def build():
            import keras
            return keras.Sequential([keras.Input((2,)), keras.layers.Dense(16, activation=activation),
                                     keras.layers.Dense(3, activation="softmax")])
        return build

    def recipe(**changes):
        fields = dict(model=mlp(), data=DATA, loss="sparse_categorical_crossentropy",
                      optimizer="sgd", learning_rate=0.1, steps=80, batch_size=32,
                      metrics=["accuracy"], seed=0)
        fields.update(changes)
        return trainspec.Recipe(**fields)

    # too small a learning rate: the loss barely moves in 80 steps
    PAIR = trainspec.Pair("tiny_lr", broken=recipe(learning_rate=1e-5), fixed=recipe(),
                          cause="learning rate 1e-5 is far too small", fix="use 0.1")
    """
)


def write(pytester: pytest.Pytester, body: str, name: str = "test_specs") -> None:
    pytester.makepyfile(**{name: HEADER + textwrap.dedent(body)})


def run_json(pytester: pytest.Pytester, *args: str) -> tuple[pytest.RunResult, dict]:
    result = pytester.runpytest("--trainspec-json", "out.json", "-p", "no:cacheprovider", *args)
    document = json.loads((pytester.path / "out.json").read_text())
    return result, document


def test_a_caught_pair_passes_the_session(pytester):
    write(pytester, """
        @trainspec.applies_to(PAIR)
        def test_loss_halves(run):
            assert run.loss.relative_decrease() >= 0.5
    """)
    result, doc = run_json(pytester)
    assert result.ret == 0
    result.assert_outcomes(passed=1, xfailed=1)
    result.stdout.fnmatch_lines(["*trainspec report*", "*tiny_lr*caught*1/1*",
                                 "1/1 pairs caught, 1/1 verdicts caught*"])
    assert "╭" not in result.stdout.str()  # quiet when green: no panel
    assert doc["schema"] == "trainspec-results" and doc["version"] == 1
    assert doc["verdicts"] == [{"spec": "test_specs.py::test_loss_halves", "pair": "tiny_lr",
                                "verdict": "caught", "broken_outcome": "failed",
                                "fixed_outcome": "passed"}]
    broken = next(r for r in doc["results"] if r["variant"] == "broken")
    assert broken["nodeid"] == "test_specs.py::test_loss_halves[tiny_lr-broken]"
    assert broken["outcome"] == "failed" and broken["verdict"] == "caught"
    assert broken["seed"] == 0 and broken["wall_time"] > 0
    assert "relative_decrease" in broken["message"]
    assert broken["summary"]["steps_recorded"] == 80
    assert doc["environment"]["tensorflow"]


def test_a_missed_pair_fails_the_session(pytester):
    write(pytester, """
        @trainspec.applies_to(PAIR)
        def test_loss_is_finite(run):
            assert run.finite
    """)
    result, doc = run_json(pytester)
    assert result.ret == 1
    result.assert_outcomes(passed=1, failed=1)
    result.stdout.fnmatch_lines(["*XPASS(strict)*MISSED*tiny_lr*", "*MISSED*tiny_lr (broken)*"])
    assert doc["verdicts"][0]["verdict"] == "missed"


def test_a_false_alarm_fails_the_session_and_explains_itself(pytester):
    write(pytester, """
        @trainspec.applies_to(PAIR)
        def test_impossible(run):
            trainspec.expect(run).loss_to_fall_by(0.999)
    """)
    result, doc = run_json(pytester)
    assert result.ret == 1
    assert doc["verdicts"][0]["verdict"] == "false_alarm"
    result.stdout.fnmatch_lines(["*FALSE ALARM*tiny_lr (fixed)*",
                                 "*loss did not fall by 99.9%: measured a* decrease*",
                                 "*decrease (medians of the first and last * steps)*"])
    assert '  reproduce: pytest "test_specs.py::test_impossible[tiny_lr-fixed]"  (seed 0)' in (
        result.stdout.lines)
    fixed = next(r for r in doc["results"] if r["variant"] == "fixed")
    assert fixed["details"]["required"].endswith("(relative_decrease >= 0.999)")
    assert len(fixed["details"]["curve"]) == 80


def test_a_spec_that_raises_is_an_error_verdict(pytester):
    write(pytester, """
        @trainspec.applies_to(PAIR)
        def test_typo(run):
            run.metric("acuracy")
    """)
    result, doc = run_json(pytester)
    assert result.ret == 1
    assert doc["verdicts"][0]["verdict"] == "error"
    assert "metric 'acuracy' was not recorded; recorded: accuracy" in doc["results"][0]["message"]


def test_plain_specs_with_a_recipe_fixture(pytester):
    write(pytester, """
        make = recipe

        @pytest.fixture(name="recipe")
        def recipe_fixture():
            return make()

        def test_above_chance(run):
            trainspec.expect(run).accuracy_above_chance(margin=0.3)
    """)
    result, doc = run_json(pytester)
    assert result.ret == 0, result.stdout.str()
    assert doc["results"][0]["kind"] == "recipe" and doc["results"][0]["outcome"] == "passed"


def test_specs_on_a_diverging_run_fail_naming_step_and_tensor(pytester):
    write(pytester, """
        import keras

        def logits():
            hidden = [keras.layers.Dense(64, activation="relu") for _ in range(4)]
            return keras.Sequential([keras.Input((2,)), *hidden, keras.layers.Dense(3)])

        EXPLODES = recipe(model=logits, data=(DATA[0] * 100, DATA[1]), learning_rate=50.0, steps=200,
                          loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True))

        @trainspec.applies_to(EXPLODES)
        def test_something_lenient(run):
            assert len(run.loss) >= 0

        @trainspec.applies_to(EXPLODES)
        @pytest.mark.trainspec(allow_nonfinite=True)
        def test_expects_divergence(run):
            assert not run.finite
    """)
    result, doc = run_json(pytester)
    result.assert_outcomes(passed=1, failed=1)
    result.stdout.fnmatch_lines(["*the run diverged*became*at step*"])
    lenient = next(r for r in doc["results"] if "lenient" in r["nodeid"])
    assert lenient["summary"]["nonfinite"]["step"] > 0


@pytest.mark.parametrize(
    ("recipe_code", "words"),
    [
        ("recipe(data=(np.zeros((64, 7), np.float32), np.zeros(64, np.int32)))",
         "field 'data': x has per-sample shape (7)"),
        ("recipe(model=lambda: (_ for _ in ()).throw(ValueError('no such layer')))",
         "raised ValueError: no such layer"),
        ("recipe(data=(DATA[0], DATA[1] + 5))", "labels range over [5, 7] but the model has 3 outputs"),
    ],
)
def test_bad_recipes_are_readable_errors_naming_the_spec(pytester, recipe_code, words):
    write(pytester, f"""
        BAD = trainspec.Pair("bad", broken=lambda: {recipe_code}, fixed=recipe())

        @trainspec.applies_to(BAD)
        def test_loss_halves(run):
            assert run.loss.relative_decrease() >= 0.5
    """)
    result, doc = run_json(pytester)
    assert result.ret == 1
    out = result.stdout.str()
    assert "test_loss_halves[bad-broken]" in out and "trainspec: recipe" in out and words in out
    assert "site-packages/tensorflow" not in result.stdout.str()
    assert "site-packages/keras" not in result.stdout.str()
    assert doc["verdicts"][0]["verdict"] == "error"
    broken = next(r for r in doc["results"] if r["variant"] == "broken")
    assert broken["outcome"] == "error" and words in broken["message"]


@pytest.mark.parametrize(
    ("bad", "words"),
    [
        ("optimizer='adamm'", "unknown optimizer 'adamm'"),
        ("steps=0", "steps"),
        ("batch_size=10_000", "larger than the 512 training samples"),
        ("data=(np.full((512, 2), np.nan, np.float32), DATA[1])", "NaN/Inf"),
    ],
)
def test_invalid_recipes_at_import_are_collection_errors_in_the_json(pytester, bad, words):
    write(pytester, f"""
        BAD = recipe({bad})

        @trainspec.applies_to(BAD)
        def test_anything(run):
            pass
    """)
    pytester.makepyfile(test_other=HEADER + textwrap.dedent("""
        @trainspec.applies_to(PAIR)
        def test_loss_halves(run):
            assert run.loss.relative_decrease() >= 0.5
    """))
    result, doc = run_json(pytester)
    assert result.ret == 1  # the bad module is a collection error; the other module still runs
    result.assert_outcomes(passed=1, xfailed=1, errors=1)
    result.stdout.fnmatch_lines(["*ERROR collecting test_specs.py*", f"*{words}*"])
    assert doc["collection_errors"][0]["nodeid"] == "test_specs.py"
    assert words in doc["collection_errors"][0]["message"]


def test_run_fixture_without_a_recipe_explains_how(pytester):
    write(pytester, """
        def test_orphan(run):
            pass
    """)
    result = pytester.runpytest("-p", "no:cacheprovider")
    result.stdout.fnmatch_lines(["*the `run` fixture needs a recipe*applies_to*"])
    assert result.ret == 1


def test_report_can_be_limited_to_problems_or_turned_off(pytester):
    write(pytester, """
        @trainspec.applies_to(PAIR)
        def test_loss_halves(run):
            assert run.loss.relative_decrease() >= 0.5
    """)
    quiet = pytester.runpytest("-p", "no:cacheprovider")
    assert "tiny_lr" in quiet.stdout.str() and "caught · tiny_lr" not in quiet.stdout.str()
    full = pytester.runpytest("-p", "no:cacheprovider", "--trainspec-report", "full")
    assert "caught · tiny_lr (broken)" in full.stdout.str()
    problems = pytester.runpytest("-p", "no:cacheprovider", "--trainspec-report", "problems")
    assert "tiny_lr" not in problems.stdout.str()
    problems.stdout.fnmatch_lines(["*trainspec report*", "1/1 pairs caught*"])
    off = pytester.runpytest("-p", "no:cacheprovider", "--trainspec-report", "off")
    assert "trainspec report" not in off.stdout.str()


def test_ini_options_are_read(pytester):
    pytester.makeini("[pytest]\ntrainspec_json = from_ini.json\ntrainspec_report = off\n")
    write(pytester, """
        @trainspec.applies_to(PAIR)
        def test_loss_halves(run):
            assert run.loss.relative_decrease() >= 0.5
    """)
    result = pytester.runpytest("-p", "no:cacheprovider")
    assert result.ret == 0 and "trainspec report" not in result.stdout.str()
    assert json.loads((pytester.path / "from_ini.json").read_text())["verdicts"][0]["verdict"] == "caught"


def test_the_plugin_does_not_import_tensorflow():
    code = ("import sys, trainspec, trainspec.plugin; "
            "assert 'tensorflow' not in sys.modules and 'keras' not in sys.modules, 'imported'")
    subprocess.run([sys.executable, "-c", code], check=True, timeout=120)


def test_help_lists_the_options(pytester):
    result = pytester.runpytest("--help")
    result.stdout.fnmatch_lines(["*trainspec*", "*--trainspec-json=PATH*", "*--trainspec-report*"])


def test_collecting_the_curriculum_does_not_import_tensorflow():
    # TensorFlow costs seconds to import: it must wait until the first run starts.
    code = ("import sys, pytest; "
            "code = pytest.main(['--collect-only', '-q', '-p', 'no:cacheprovider', 'specs/']); "
            "assert code == 0, code; "
            "assert 'tensorflow' not in sys.modules, 'collection imported tensorflow'")
    from pathlib import Path

    root = Path(__file__).resolve().parents[2]
    subprocess.run([sys.executable, "-c", code], check=True, timeout=180, cwd=root,
                   capture_output=True)
