"""``trainspec doctor path.py:name``: exit codes and output."""

from __future__ import annotations

import textwrap

import pytest

from trainspec.cli import main

MODULE = textwrap.dedent(
    """
    import trainspec
    from trainspec import datasets

    def mlp():
        import keras
        return keras.Sequential([keras.Input((2,)), keras.layers.Dense(16, activation="relu"),
                                 keras.layers.Dense(3, activation="softmax")])

    good = trainspec.Recipe(model=mlp, data=datasets.blobs(n=512, classes=3, seed=0),
                            loss="sparse_categorical_crossentropy", optimizer="sgd",
                            learning_rate=0.1, steps=80, batch_size=32, metrics=["accuracy"])
    flat = good.replace(learning_rate=1e-6)
    pair = trainspec.Pair("tiny_lr", broken=flat, fixed=good)
    number = 3
    """
)


@pytest.fixture(scope="module")
def module(tmp_path_factory):
    path = tmp_path_factory.mktemp("doctor") / "recipes.py"
    path.write_text(MODULE)
    return path


def test_healthy_recipe_exits_zero(module, capsys):
    assert main(["doctor", f"{module}:good"]) == 0
    out = capsys.readouterr().out
    assert "no findings" in out and "loss" in out


def test_broken_recipe_prints_the_diagnosis_and_exits_one(module, capsys):
    assert main(["doctor", f"{module}:pair"]) == 1
    out = capsys.readouterr().out
    assert "loss_not_decreasing" in out and "pair (broken)" in out and "pair (fixed)" in out


def test_thresholds_on_the_command_line(module, capsys):
    assert main(["doctor", f"{module}:flat", "--set", "min_decrease=0.07"]) == 1
    assert "threshold = 0.07" in capsys.readouterr().out
    assert main(["doctor", f"{module}:flat", "--set", "min_decrease=7"]) == 2


@pytest.mark.parametrize("target, message", [
    ("missing.py:good", "no such file"),
    ("{module}:nope", "has no 'nope'; recipes and pairs there: good, flat, pair"),
    ("{module}", "expected path/to/module.py:name"),
    ("{module}:number", "not a trainspec Recipe or Pair"),
])
def test_bad_targets_exit_two_with_one_line(module, capsys, target, message):
    assert main(["doctor", target.format(module=module)]) == 2
    assert message in " ".join(capsys.readouterr().out.split())


def test_try_fixes_shows_the_repair_that_worked(module, capsys):
    # a learning rate of 1e-6: the doctor names the tiny updates; SGD's default rate repairs it
    assert main(["doctor", f"{module}:flat", "--try-fixes"]) == 1
    out = " ".join(capsys.readouterr().out.split())
    assert "cause:" in out and "primary" in out
    assert "try-fixes" in out and "✔ healthy the optimizer's default learning rate" in out


def test_frozen_layers_are_shown_with_the_origin_of_their_weights():
    from rich.console import Console

    import trainspec
    from tests.doctor.test_unchanged import FLAT, frozen
    from tests.doctor.conftest import layer, make_run
    from trainspec.cli import render

    run = make_run(FLAT, acc=0.34, layers=[frozen("base", 0, True), frozen("pre", 1, False),
                                           layer("out", 2)])
    console = Console(record=True, width=120)
    render(console, "frozen", run, trainspec.diagnose(run))
    text = console.export_text()
    assert "frozen base" in text and "initial random weights" in text and "did not move" in text
    assert "frozen pre" in text and "pretrained weights" in text
    assert "frozen with the random weights" in text  # the doctor names the mistaken freeze
