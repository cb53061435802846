"""``trainspec diff A.json B.json``: runs matched by label, changed series and first step."""

from __future__ import annotations

import json
import textwrap

import pytest

from tests.conftest import TINY_SPECS
from trainspec.cli import main
from trainspec.diff import RunStatus, diff

SPECS = TINY_SPECS + textwrap.dedent(
    """
    import keras

    def functional():
        inputs = keras.Input((2,))
        hidden = keras.layers.Dense(8, activation="relu")(inputs)
        return keras.Model(inputs, keras.layers.Dense(3, activation="softmax")(hidden))

    KEPT = recipe(name="kept")
    REFACTORED = recipe(name="refactored", model=MODEL)
    TUNED = recipe(name="tuned", learning_rate=LR)
    EXTRA = [recipe(name="extra", seed=3)] if ADD else []

    @trainspec.applies_to(KEPT, REFACTORED, TUNED, *EXTRA)
    def test_trains(run):
        assert run.steps_recorded == 60
    """
)


@pytest.fixture(scope="module")
def results(tmp_path_factory):
    return {}


def _write(pytester, name, model, lr, add):
    source = SPECS.replace("MODEL", model).replace("LR", lr).replace("ADD", add)
    pytester.makepyfile(test_specs=source)
    from trainspec.engine import clear_memo

    clear_memo()
    result = pytester.runpytest("-p", "no:cacheprovider", "--trainspec-report=off",
                                "--trainspec-json", name)
    assert result.ret == 0
    return str(pytester.path / name)


def test_diff_names_changed_runs_series_and_first_step(pytester, capsys):
    a = _write(pytester, "main.json", "mlp", "0.1", "False")
    b = _write(pytester, "branch.json", "functional", "0.05", "True")
    entry = json.loads((pytester.path / "main.json").read_text())["results"][0]["runs"][0]
    assert {"loss", "metric:accuracy", "grad_norm:0:Dense"} <= set(entry["series"])
    assert len(entry["series"]["loss"]) == 60

    by_label = {d.label: d for d in diff(a, b)}
    assert by_label["kept"].status is RunStatus.SAME and not by_label["kept"].fingerprint_changed
    refactor = by_label["refactored"]
    assert refactor.status is RunStatus.SAME and refactor.fingerprint_changed  # same behaviour
    tuned = by_label["tuned"]
    assert tuned.status is RunStatus.CHANGED
    assert {c.series for c in tuned.changes} >= {"loss", "grad_norm:0:Dense"}
    loss = next(c for c in tuned.changes if c.series == "loss")
    assert loss.first_step == 1 and loss.a != loss.b  # step 0 is before the first update
    assert by_label["extra"].status is RunStatus.ONLY_B

    assert main(["diff", a, b]) == 1
    out = capsys.readouterr().out
    assert "tuned" in out and "changed" in out and "loss @ step 1:" in out
    assert "same (code changed)" in out
    assert "4 runs: 2 same, 1 changed, 0 only in A, 1 only in B" in out
    assert main(["diff", a, a]) == 0


def test_diff_rejects_files_that_are_not_results(tmp_path, capsys):
    bad = tmp_path / "bad.json"
    bad.write_text('{"hello": 1}')
    assert main(["diff", str(bad), str(bad)]) == 2
    assert "not a trainspec results file" in " ".join(capsys.readouterr().out.split())
