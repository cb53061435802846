"""The status line shown while a run trains: drawn on the rest of pytest's line, erased exactly,
and only where asked for."""

from __future__ import annotations

import io
import re
import textwrap
import time

from trainspec.plugin.progress import RunStatus

_DRAW = re.compile(r"training (\S+) (\d+)/(\d+) steps")
_ERASE = re.compile(r"\x1b\[(\d+)D\x1b\[0K")
_ANSI = re.compile(r"\x1b\[[0-9;]*m")


def _status(out: io.StringIO, column: int = 10, width: int = 80) -> RunStatus:
    return RunStatus(out, width=width, column=lambda: column, show_after=0, terminal=True)


def _visible(text: str) -> str:
    return _ANSI.sub("", text)


def test_names_the_run_and_its_steps_then_erases_all_it_drew():
    out = io.StringIO()
    status = _status(out)
    status.update("mlp-fixed", 0, 300)
    status.draw()
    status.update("mlp-fixed", 150, 300)
    status.draw()
    status.stop()
    text = out.getvalue()
    drawn = [m.groups() for m in _DRAW.finditer(_visible(text))]
    assert drawn[0] == ("mlp-fixed", "0", "300")
    assert drawn[-1] == ("mlp-fixed", "150", "300")
    # every drawing is followed by moving back over exactly its width and clearing
    drawings = [_visible(d) for d in _ERASE.split(text)[::2] if d]
    erased = [int(n) for n in _ERASE.findall(text)]
    assert [len(d) for d in drawings] == erased


def test_never_wraps_past_the_end_of_the_line():
    out = io.StringIO()
    status = _status(out, column=50, width=80)
    status.update("a-rather-long-recipe-name-for-a-narrow-terminal", 10, 300)
    status.draw()
    status.stop()
    drawn = _visible(_ERASE.split(out.getvalue())[0])
    assert 0 < len(drawn) <= 80 - 50 - 1


def test_draws_nothing_without_room_or_before_the_delay():
    out = io.StringIO()
    cramped = _status(out, column=70, width=80)
    cramped.update("run", 0, 10)
    cramped.draw()
    cramped.stop()
    patient = RunStatus(out, width=80, column=lambda: 0, show_after=60, terminal=True)
    patient.update("run", 0, 10)
    patient.draw()
    patient.stop()
    assert out.getvalue() == ""


def test_animates_while_the_caller_is_busy():
    out = io.StringIO()
    status = _status(out)
    status.update("slow", 0, 10)
    time.sleep(0.7)  # the animation thread redraws a few times
    status.stop()
    assert len(_DRAW.findall(out.getvalue())) >= 2
    assert out.getvalue().endswith("\x1b[0K")


SPEC = textwrap.dedent(
    """
    import trainspec
    from trainspec import datasets

    def build():
        import keras
        return keras.Sequential([keras.Input((2,)), keras.layers.Dense(32, activation="relu"),
                                 keras.layers.Dense(3, activation="softmax")])

    RECIPE = trainspec.Recipe(model=build, data=datasets.blobs(n=256, classes=3, seed=0),
                              loss="sparse_categorical_crossentropy",
                              optimizer="sgd", learning_rate=0.05, steps=3000, batch_size=32,
                              name="long-run")

    @trainspec.applies_to(RECIPE)
    def test_trains(run):
        assert run.loss.relative_decrease() > 0.5
    """
)


def test_plugin_shows_the_run_being_trained_when_asked(pytester):
    pytester.makepyfile(test_long=SPEC)
    on = pytester.runpytest_subprocess("--trainspec-progress=on", "--trainspec-report=off",
                                       "-p", "no:cacheprovider")
    on.assert_outcomes(passed=1)
    assert "training long-run" in on.stdout.str()
    assert re.search(r"test_long\.py .*\.", _visible(_ERASE.sub("", on.stdout.str())))
    # auto: pytester's output is not a terminal, so nothing is drawn
    auto = pytester.runpytest_subprocess("--trainspec-report=off", "-p", "no:cacheprovider")
    auto.assert_outcomes(passed=1)
    assert "training long-run" not in auto.stdout.str()


def test_bad_progress_mode_is_a_usage_error(pytester):
    pytester.makeini("[pytest]\ntrainspec_progress = sometimes\n")
    pytester.makepyfile(test_x="def test_x():\n    pass\n")
    result = pytester.runpytest()
    assert result.ret == 4
    assert "trainspec_progress must be one of auto, on, off" in result.stderr.str()
