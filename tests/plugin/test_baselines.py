"""Trajectory baselines through the plugin: the missing-baseline failure, the update flow,
equivalent refactors that pass, behaviour changes that are caught, unused files, xdist."""

from __future__ import annotations

import json
import shutil
import textwrap

import pytest

from trainspec.engine import clear_memo

MODULE = textwrap.dedent(
    """
    import os

    import keras
    import numpy as np
    import trainspec
    from trainspec import datasets

    DATA = datasets.blobs(n=256, classes=3, seed=0)
    X, Y = DATA
    PERM = np.random.default_rng(1).permutation(len(X))

    def seq():
        return keras.Sequential([keras.Input((2,)), keras.layers.Dense(16, activation="relu"),
                                 keras.layers.Dense(3, activation="softmax")])

    def functional():
        inputs = keras.Input((2,))
        hidden = keras.layers.Dense(16, activation="relu")(inputs)
        return keras.Model(inputs, keras.layers.Dense(3, activation="softmax")(hidden))

    def reordered():  # the output layer is made first: other names, other initial draws
        out = keras.layers.Dense(3, activation="softmax")
        hidden = keras.layers.Dense(16, activation="relu")
        return keras.Sequential([keras.Input((2,)), hidden, out])

    def linear():
        return keras.Sequential([keras.Input((2,)), keras.layers.Dense(3, activation="softmax")])

    def recipe(**changes):
        fields = dict(model=seq, data=DATA, loss="sparse_categorical_crossentropy",
                      optimizer="sgd", learning_rate=0.1, steps=60, batch_size=32,
                      metrics=["accuracy"], seed=0)
        fields.update(changes)
        return trainspec.Recipe(**fields)

    EQUIVALENT = {
        "functional": recipe(model=functional),
        "reordered": recipe(model=reordered),
        "another_seed": recipe(seed=7),
        "batch_order": recipe(data=(X[PERM], Y[PERM])),
        "loss_object": recipe(loss=keras.losses.SparseCategoricalCrossentropy()),
    }
    CHANGED = {
        "adam": recipe(optimizer="adam", learning_rate=0.01),
        "momentum": recipe(optimizer={"name": "sgd", "momentum": 0.9}),
        "slower_lr": recipe(learning_rate=0.02),
        "linear_model": recipe(model=linear),
        "shuffled_labels": recipe(data=(X, Y[PERM])),
        "scaled_inputs": recipe(data=(X * 5, Y)),
    }
    ALL = {"base": recipe(), **EQUIVALENT, **CHANGED}
    CHOSEN = os.environ.get("VARIANTS", "base").split(",")

    @trainspec.applies_to(*[ALL[name].replace(name=name) for name in CHOSEN])
    def test_trains_as_before(run, baseline):
        baseline.check(run)
    """
)

EQUIVALENT = ["functional", "reordered", "another_seed", "batch_order", "loss_object"]
CHANGED = ["adam", "momentum", "slower_lr", "linear_model", "shuffled_labels", "scaled_inputs"]


def _session(pytester, *args):
    clear_memo()
    result = pytester.runpytest("-p", "no:cacheprovider", "--trainspec-report=off",
                                "--trainspec-json", "out.json", *args)
    document = json.loads((pytester.path / "out.json").read_text())
    return result, {r["nodeid"].split("[", 1)[1].rstrip("]"): r for r in document["results"]}


def _file(pytester, variant):
    return (pytester.path / "baselines" / "test_regress" / f"test_trains_as_before[{variant}].json")


def test_record_refactor_check_update(pytester, monkeypatch):
    pytester.makepyfile(test_regress=MODULE)
    monkeypatch.setenv("VARIANTS", "base")

    missing, _ = _session(pytester)
    assert missing.ret == 1
    missing.stdout.fnmatch_lines([
        "*trainspec baseline: no baseline at *test_trains_as_before[[]base[]].json",
        '*record it with: pytest "test_regress.py::test_trains_as_before[[]base[]]" '
        "--trainspec-update-baselines",
        "*trainspec baselines: 1 baseline missing; record with: pytest "
        "--trainspec-update-baselines*",
    ])

    recorded, _ = _session(pytester, "--trainspec-update-baselines")
    assert recorded.ret == 0
    recorded.stdout.fnmatch_lines([
        "trainspec baselines: 1 file written (--trainspec-update-baselines):",
        "  new        baselines/test_regress/test_trains_as_before[[]base[]].json",
    ])
    text = _file(pytester, "base").read_text()
    assert text.startswith('{"trainspec_baseline": 1,\n')
    data = json.loads(text)
    assert data["seeds"] == [0, 1, 2, 3, 4] and data["mode"] == "envelope"
    assert {"loss", "metric:accuracy", "grad_norm:0:Dense", "grad_norm:1:Dense"} == set(data["series"])
    assert "prediction interval" in data["statistics"]

    checked, results = _session(pytester)
    assert checked.ret == 0 and results["base"]["outcome"] == "passed"
    assert "trainspec baselines" not in checked.stdout.str()  # quiet when all is well

    # the same spec after each refactor or change: the base baseline under each variant's id
    for variant in EQUIVALENT + CHANGED:
        shutil.copy(_file(pytester, "base"), _file(pytester, variant))
    monkeypatch.setenv("VARIANTS", ",".join(EQUIVALENT + CHANGED))
    compared, results = _session(pytester)
    passed = [v for v in EQUIVALENT if results[v]["outcome"] == "passed"]
    caught = [v for v in CHANGED if results[v]["outcome"] == "failed"]
    assert passed == EQUIVALENT, {v: results[v]["message"] for v in EQUIVALENT}
    assert caught == CHANGED, [v for v in CHANGED if v not in caught]
    message = results["slower_lr"]["message"]
    assert "left its baseline" in message and "seed envelope of 5 seeds" in message
    assert "steps outside the band (budget 3); first at step" in message
    assert "band hi" in message and "run      " in message and "band lo" in message
    assert ('accept the new behaviour: pytest "test_regress.py::test_trains_as_before[slower_lr]" '
            "--trainspec-update-baselines") in message
    assert "trainable layers changed" in results["linear_model"]["message"]
    assert results["slower_lr"]["details"]["mismatches"][0]["first_step"] is not None

    # accepting the new behaviour rewrites exactly the changed baselines
    monkeypatch.setenv("VARIANTS", "functional,slower_lr")
    updated, _ = _session(pytester, "--trainspec-update-baselines")
    assert updated.ret == 0
    updated.stdout.fnmatch_lines([
        "trainspec baselines: 1 file written (--trainspec-update-baselines):",
        "  rewritten  baselines/test_regress/test_trains_as_before[[]slower_lr[]].json",
    ])
    again, results = _session(pytester)
    assert again.ret == 0 and results["slower_lr"]["outcome"] == "passed"


def test_unused_baselines_and_bad_files_are_reported(pytester, monkeypatch):
    pytester.makepyfile(test_regress=MODULE)
    monkeypatch.setenv("VARIANTS", "base")
    folder = pytester.path / "baselines" / "test_regress"
    folder.mkdir(parents=True)
    (folder / "test_gone[old].json").write_text("{}")
    (folder / "test_trains_as_before[base].json").write_text('{"something": "else"}')
    result, _ = _session(pytester)
    assert result.ret == 1
    result.stdout.fnmatch_lines([
        "*not a trainspec baseline of version 1*",
        "trainspec baselines: 1 file no spec used any more (delete them if their specs are gone):",
        "  baselines/test_regress/test_gone[[]old[]].json",
    ])
    # a different variant selected with -k still owns its file: no false "unused"
    result, _ = _session(pytester, "-k", "nothing_matches")
    assert "test_trains_as_before[[]base[]]" not in result.stdout.str()


XDIST_MODULE = MODULE.replace('CHOSEN = os.environ.get("VARIANTS", "base").split(",")',
                              'CHOSEN = ["base", "another_seed", "slower_lr"]')


def test_under_xdist_workers_write_and_the_controller_reports(pytester):
    pytest.importorskip("xdist")
    pytester.makepyfile(test_regress=XDIST_MODULE)
    args = ("-p", "no:cacheprovider", "--trainspec-progress=off", "--trainspec-report=off",
            "-n", "2", "--trainspec-baseline-seeds", "3")
    first = pytester.runpytest_subprocess(*args, "--trainspec-update-baselines")
    assert first.ret == 0
    first.stdout.fnmatch_lines(["trainspec baselines: 3 files written (--trainspec-update-baselines):"])
    assert first.stdout.str().count("trainspec baselines:") == 1  # the controller only
    for variant in ("base", "another_seed", "slower_lr"):
        assert json.loads(_file(pytester, variant).read_text())["seeds"] == [
            {"base": 0, "another_seed": 7, "slower_lr": 0}[variant] + i for i in range(3)]
    (pytester.path / "baselines" / "test_regress" / "test_old[x].json").write_text("{}")
    second = pytester.runpytest_subprocess(*args)
    assert second.ret == 0
    second.stdout.fnmatch_lines(["trainspec baselines: 1 file no spec used any more*",
                                 "  baselines/test_regress/test_old[[]x[]].json"])
