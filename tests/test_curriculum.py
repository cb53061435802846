"""The curriculum's examples: shape of every pair module, sweeps, and that importing them does
not import TensorFlow.  (``pytest specs/`` itself checks every pair is caught.)"""

from __future__ import annotations

import importlib
import pkgutil
import subprocess
import sys
from pathlib import Path

import examples
import trainspec
from examples import softmax_logits, sweeps

ROOT = Path(__file__).resolve().parent.parent


def test_every_pair_module_has_broken_fixed_and_pair():
    modules = [m.name for m in pkgutil.iter_modules(examples.__path__)
               if not m.name.startswith("_") and m.name != "sweeps"]
    listed = {p.name for p in examples.PAIRS}
    for name in modules:
        module = importlib.import_module(f"examples.{name}")
        assert isinstance(module.pair, trainspec.Pair), name
        assert module.pair.name in listed, f"{name}.pair is not in examples.PAIRS"
        for variant in ("broken", "fixed"):
            source = getattr(module, variant, None)  # a Recipe or a function returning one
            assert isinstance(source, trainspec.Recipe) or callable(source), (name, variant)
            recipe = module.pair.recipe(variant)
            assert isinstance(recipe, trainspec.Recipe)
        assert module.pair.cause and module.pair.fix and module.pair.lesson


def test_the_curriculum_lists_every_pair_in_course_order():
    assert [p.name for p in examples.PAIRS] == [
        "high_learning_rate", "sigmoid_vanishing", "bad_init", "input_noise", "softmax_logits",
        "vanishing", "exploding", "exploding_clipvalue", "dying_relu", "dying_relu_prelu",
        "dying_relu_elu", "initialisation", "selu", "batchnorm", "early_stopping",
        "regularisation_l2", "regularisation_l1", "regularisation_dropout", "transfer_learning",
        "transfer_learning_fine_tuned", "momentum", "wrong_loss", "checkpointing",
    ]
    assert {p.name: p.alias for p in examples.PAIRS if p.alias} == {
        "high_learning_rate": "Fail1", "sigmoid_vanishing": "Fail2", "bad_init": "Fail3",
        "input_noise": "Fail4", "softmax_logits": "Fail5"}


def test_no_example_points_at_the_course_folder():
    # users of the package do not have the course's folder: cite the material by what it is
    for path in [*(ROOT / "examples").glob("*.py"), *(ROOT / "specs").glob("*.py"),
                 *(ROOT / "trainspec" / "exercises").rglob("*.py"), ROOT / "README.md"]:
        assert "seeds/" not in path.read_text(), path


def test_fail5_keeps_the_hand_written_gradient_tape_step():
    for variant in ("broken", "fixed"):
        recipe = softmax_logits.pair.recipe(variant)
        assert recipe.train_step is softmax_logits.train_step and recipe.loss is None


def test_sweeps_cover_the_course_values():
    lr = [label for label, _ in sweeps.LEARNING_RATE.points()]
    assert lr == ["learning_rate=0.1", "learning_rate=0.01", "learning_rate=0.001",
                  "learning_rate=0.0001"]
    assert [label for label, _ in sweeps.OPTIMIZER.points()] == [
        f"optimizer={o}"
        for o in ("sgd", "momentum", "nesterov", "adam", "adamw", "rmsprop", "adagrad")]
    # each optimizer at a fair rate: SGD at its best, momentum at SGD's step (lr x (1 - beta))
    rates = {c["optimizer"]: c["learning_rate"] for c in sweeps.OPTIMIZER.columns.values()}
    assert rates["sgd"] == 0.01 and rates["momentum"] == rates["nesterov"] == 0.001
    assert sweeps.OPTIMIZER.recipes["optimizer=sgd"].learning_rate == 0.01
    assert sweeps.HIDDEN_SIZES.columns == sweeps.HIDDEN_SIZES_COLUMNS
    assert "softmax+glorot_uniform" in dict(sweeps.ACTIVATION_INITIALIZER.points())
    columns = list(sweeps.HIDDEN_SIZES_COLUMNS.values())
    assert all(set(c) == {"n_hidden_1", "n_hidden_2", "learning_rate", "optimizer"}
               for c in columns)
    assert {c["n_hidden_2"] for c in columns} == {256, 128, 64}
    assert [label for label, _ in sweeps.LOSSES.points()] == [
        "loss=crossentropy", "loss=mse_one_hot", "loss=categorical_hinge", "loss=focal"]


def test_importing_the_curriculum_does_not_import_tensorflow():
    code = ("import sys, examples, examples.sweeps; "
            "sys.exit(1 if 'tensorflow' in sys.modules or 'keras' in sys.modules else 0)")
    assert subprocess.run([sys.executable, "-c", code], cwd=ROOT).returncode == 0


def test_the_report_shows_the_course_names_beside_the_pairs():
    from trainspec.plugin.report import render
    from trainspec.plugin.results import ResultBook, SpecResult

    book = ResultBook()
    for variant, outcome in (("broken", "failed"), ("fixed", "passed")):
        book.add(SpecResult(f"specs/t.py::test_x[high_learning_rate-{variant}]", "specs/t.py::test_x",
                            "pair", "high_learning_rate", variant, outcome, alias="Fail1"))
    text = render(book, "full", width=120, color=False)
    assert "high_learning_rate (Fail1)" in text
