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


def test_fail5_keeps_the_hand_written_gradient_tape_step():
    for variant in ("broken", "fixed"):
        recipe = softmax_logits.pair.recipe(variant)
        assert recipe.train_step is softmax_logits.train_step and recipe.loss is None


def test_sweeps_cover_the_course_values():
    lr = [label for label, _ in sweeps.LEARNING_RATE.points()]
    assert lr == ["learning_rate=0.1", "learning_rate=0.01", "learning_rate=0.001",
                  "learning_rate=0.0001"]
    assert [label for label, _ in sweeps.OPTIMIZER.points()] == [
        f"optimizer={o}" for o in ("sgd", "adam", "rmsprop", "adagrad")]


def test_importing_the_curriculum_does_not_import_tensorflow():
    code = ("import sys, examples, examples.sweeps; "
            "sys.exit(1 if 'tensorflow' in sys.modules or 'keras' in sys.modules else 0)")
    assert subprocess.run([sys.executable, "-c", code], cwd=ROOT).returncode == 0
