"""Bad inputs: every value of the wrong kind, range or meaning gives a clear error naming its
field (or, where it is legitimate, a warning naming it), and the other specs of the session
still run.

The first table builds recipes, pairs, sweeps and ``applies_to`` declarations directly (no
TensorFlow); the second runs one pytest session holding one spec module per bad input, beside
a good spec, and reads each outcome from the JSON results.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
import warnings
from collections.abc import Callable
from typing import Any

import numpy as np
import pydantic
import pytest

import trainspec
from trainspec.exceptions import RecipeWarning, SpecError

X = np.random.default_rng(0).normal(size=(64, 2)).astype(np.float32)
Y = (X[:, 0] > 0).astype(np.int32)


def build():  # never called here: validation does not build models
    raise AssertionError("validation must not build the model")


def recipe(**changes: Any) -> trainspec.Recipe:
    fields = dict(model=build, data=(X, Y), loss="sparse_categorical_crossentropy",
                  optimizer="sgd", learning_rate=0.1, steps=10, batch_size=8, seed=0)
    fields.update(changes)
    return trainspec.Recipe(**fields)


R = recipe(name="base")
OTHER = recipe(name="base", learning_rate=0.01)


class FakeOptimizer:  # what a Keras optimizer class looks like to validation
    def apply_gradients(self, grads_and_vars): ...

    def get_config(self): return {}


class FakeLoss:
    def __call__(self, y_true, y_pred): ...


class FakeCallback:
    def on_epoch_end(self, epoch, logs=None): ...


def _m1(y_true, y_pred): ...


def spec_fn(run): ...


spec_fn.__name__ = "test_spec"  # looks like a spec to applies_to, not to pytest


# (id, what to build, error type, field named, words in the message)
ERRORS: list[tuple[str, Callable[[], Any], type, str | None, str]] = [
    # Recipe: kind and range of every field
    ("seed-too-large", lambda: recipe(seed=2**32), pydantic.ValidationError, "seed", "less than or equal"),
    ("seed-bool", lambda: recipe(seed=True), pydantic.ValidationError, "seed", "must be an integer"),
    ("steps-bool", lambda: recipe(steps=True), pydantic.ValidationError, "steps", "must be an integer"),
    ("lr-inf", lambda: recipe(learning_rate=float("inf")), pydantic.ValidationError,
     "learning_rate", "finite"),
    ("opt-negative-lr", lambda: recipe(learning_rate=None, optimizer={"name": "sgd", "learning_rate": -0.1}),
     pydantic.ValidationError, "optimizer", "climbs the loss"),
    ("opt-momentum", lambda: recipe(optimizer={"name": "sgd", "momentum": 1.5}),
     pydantic.ValidationError, "optimizer", "momentum 1.5 must lie in [0, 1)"),
    ("opt-beta", lambda: recipe(optimizer={"name": "adam", "beta_1": 1.0}),
     pydantic.ValidationError, "optimizer", "beta_1"),
    ("opt-clipnorm", lambda: recipe(optimizer={"name": "sgd", "clipnorm": 0}),
     pydantic.ValidationError, "optimizer", "clipnorm 0.0 must be"),
    ("opt-class", lambda: recipe(optimizer=FakeOptimizer), pydantic.ValidationError, "optimizer",
     "pass an instance"),
    ("loss-class", lambda: recipe(loss=FakeLoss), pydantic.ValidationError, "loss", "pass an instance"),
    ("callback-class", lambda: recipe(callbacks=[FakeCallback], eval_every=5),
     pydantic.ValidationError, "callbacks", "pass an instance"),
    ("metrics-twice", lambda: recipe(metrics=["mse", "mse"]), pydantic.ValidationError, "metrics",
     "two metrics are recorded under the name 'mse'"),
    ("metrics-two-lambdas", lambda: recipe(metrics=[lambda a, b: a, lambda a, b: b]),
     pydantic.ValidationError, "metrics", "'<lambda>'"),
    ("data-complex", lambda: recipe(data=(X.astype(np.complex64), Y)), pydantic.ValidationError,
     "data", "complex"),
    ("data-overflows-float32", lambda: recipe(data=(X.astype(np.float64) * 1e300, Y)),
     pydantic.ValidationError, None, "beyond float32"),
    ("labels-overflow-int32", lambda: recipe(data=(X, Y.astype(np.int64) * 2**40)),
     pydantic.ValidationError, None, "outside int32"),
    ("split-leaves-no-validation", lambda: recipe(validation_split=0.01), pydantic.ValidationError,
     None, "validation_split 0.01 of 64 samples leaves no validation sample"),
    ("validation-shape", lambda: recipe(validation_data=(np.zeros((8, 3), np.float32), Y[:8])),
     pydantic.ValidationError, None, "validation_data x has per-sample shape (3,)"),
    ("train-step-signature", lambda: recipe(train_step=lambda model: None), pydantic.ValidationError,
     "train_step", "train_step(model, optimizer, x, y)"),
    ("blank-name", lambda: recipe(name="  "), pydantic.ValidationError, "name", "blank"),
    ("schedule-memory", lambda: recipe(steps=10**12, batch_size=64), pydantic.ValidationError, None,
     "steps 1000000000000 x batch_size 64 needs a batch schedule"),
    # Pair and Sweep: names that become paths, pairs that cannot be pairs
    ("pair-dotdot", lambda: trainspec.Pair("..", broken=R, fixed=OTHER), pydantic.ValidationError,
     "name", "dots only"),
    ("pair-long-name", lambda: trainspec.Pair("x" * 101, broken=R, fixed=OTHER),
     pydantic.ValidationError, "name", "at most 100"),
    ("pair-same-object", lambda: trainspec.Pair("p", broken=R, fixed=R), pydantic.ValidationError,
     None, "broken and fixed are the same recipe"),
    ("pair-equal-copies", lambda: trainspec.Pair("p", broken=R, fixed=R.replace()),
     pydantic.ValidationError, None, "broken and fixed are the same recipe"),
    ("sweep-dotdot", lambda: trainspec.Sweep("..", base=R, over="seed", values=[0, 1]),
     pydantic.ValidationError, "name", "dots only"),
    ("sweep-dotdot-label", lambda: trainspec.Sweep("s", recipes={"..": R}), pydantic.ValidationError,
     None, "dots only"),
    ("sweep-same-labels", lambda: trainspec.Sweep("s", base=R, over="learning_rate", values=[0.1, 0.1]),
     pydantic.ValidationError, None, "their results would merge"),
    ("sweep-bad-value", lambda: trainspec.Sweep("s", base=R, over="learning_rate", values=[0.1, -1.0]),
     pydantic.ValidationError, None, "learning_rate=-1.0 does not make a valid recipe"),
    ("sweep-unknown-field-factory", lambda: trainspec.Sweep("s", base=lambda: R, over="lr", values=[1]),
     pydantic.ValidationError, None, "not a Recipe field"),
    ("sweep-over-and-recipes", lambda: trainspec.Sweep("s", recipes={"a": R}, over="seed"),
     pydantic.ValidationError, None, "not both"),
    # applies_to
    ("applies-to-nothing", lambda: trainspec.applies_to(), SpecError, None, "test nothing"),
    ("applies-to-empty-list", lambda: trainspec.applies_to([]), SpecError, None, "test nothing"),
    ("applies-to-int", lambda: trainspec.applies_to(5), SpecError, None, "argument 1 is int 5"),
    ("applies-to-name", lambda: trainspec.applies_to("high_lr"), SpecError, None,
     "pass the Pair object, not its name"),
    ("applies-to-bare", lambda: trainspec.applies_to(spec_fn), SpecError, None,
     "used without arguments"),
    ("applies-to-twice", lambda: trainspec.applies_to(R, R), SpecError, None, "twice"),
    ("applies-to-two-pairs-one-name", lambda: trainspec.applies_to(
        trainspec.Pair("p", broken=R, fixed=OTHER), trainspec.Pair("p", broken=OTHER, fixed=R)),
     SpecError, None, "share one verdict"),
    ("applies-to-two-recipes-one-label", lambda: trainspec.applies_to(R, OTHER), SpecError, None,
     "recipes labelled 'base'"),
]


@pytest.mark.parametrize(("make", "error", "field", "words"), [c[1:] for c in ERRORS],
                         ids=[c[0] for c in ERRORS])
def test_bad_declarations_are_clear_errors_naming_the_field(make, error, field, words):
    with pytest.raises(error) as info:
        make()
    assert words in str(info.value)
    if field is not None:
        assert isinstance(info.value, pydantic.ValidationError)
        assert info.value.errors()[0]["loc"][0] == field


# (id, what to build, words of the RecipeWarning)
WARNINGS: list[tuple[str, Callable[[], Any], str]] = [
    ("fractional-sparse-labels", lambda: recipe(data=(X, Y + 0.5)), "fractional label(s)"),
    ("integers-lose-exactness", lambda: recipe(data=(X.astype(np.int64) + 2**30, Y)),
     "float32 cannot represent exactly"),
    ("huge-learning-rate", lambda: recipe(learning_rate=1e4), "diverges at its first steps"),
    ("epsilon-zero", lambda: recipe(optimizer={"name": "adam", "epsilon": 0}), "divides by zero"),
]


@pytest.mark.parametrize(("make", "words"), [c[1:] for c in WARNINGS], ids=[c[0] for c in WARNINGS])
def test_legitimate_but_suspicious_values_warn(make, words):
    with pytest.warns(RecipeWarning, match=None) as caught:
        make()
    assert any(words in str(w.message) for w in caught), [str(w.message) for w in caught]


def test_a_sweep_point_invalid_for_a_factory_base_names_the_field():
    sweep = trainspec.Sweep("s", base=lambda: R, over="seed", values=[1, -1])
    points = dict(sweep.points())
    assert points["seed=1"]().seed == 1
    with pytest.raises(trainspec.RecipeError) as info:
        points["seed=-1"]()
    assert info.value.field == "seed" and "seed=-1 does not make a valid recipe" in str(info.value)


def test_a_good_recipe_neither_warns_nor_fails():
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        recipe(optimizer={"name": "adam", "beta_1": 0.9, "epsilon": 1e-7})


# -- one session, one module per bad input -----------------------------------------------------

PREAMBLE = textwrap.dedent(
    """
    import numpy as np
    import trainspec
    from trainspec import datasets

    DATA = datasets.blobs(n=128, classes=3, seed=0)

    def mlp():
        import keras
        return keras.Sequential([keras.Input((2,)), keras.layers.Dense(8, activation="relu"),
                                 keras.layers.Dense(3, activation="softmax")])

    def recipe(**changes):
        fields = dict(model=mlp, data=DATA, loss="sparse_categorical_crossentropy",
                      optimizer="sgd", learning_rate=0.1, steps=20, batch_size=32, seed=0,
                      name="good")
        fields.update(changes)
        return trainspec.Recipe(**fields)

    GOOD = recipe()

    @trainspec.applies_to(GOOD)
    def test_good(run):
        assert run.finite
    """
)

# (module, body, spec that must error, words of its message); None spec: a collection error
SESSION: list[tuple[str, str, str | None, str | tuple[str, ...]]] = [
    ("no_run_argument", """
        @trainspec.applies_to(GOOD)
        def test_bad():
            pass
     """, "test_bad", "does not take a `run` argument"),
    ("applies_to_nothing", """
        @trainspec.applies_to()
        def test_bad(run):
            pass
     """, None, "test nothing"),
    ("invalid_recipe_at_import", """
        BAD = recipe(seed=-1)
     """, None, "Recipe, field 'seed': Input should be greater than or equal to 0"),
    ("pair_name_taken", """
        A = trainspec.Pair("shared", broken=recipe(learning_rate=1e-5), fixed=GOOD)
        B = trainspec.Pair("shared", broken=recipe(learning_rate=1.0), fixed=GOOD)

        @trainspec.applies_to(A)
        def test_first(run):
            pass

        @trainspec.applies_to(B)
        def test_bad(run):
            pass
     """, "test_bad", "two different pairs of one name"),
    # validated before the first step, naming the right field
    ("sparse_loss_one_hot_targets", """
        BAD = recipe(data=(DATA[0], np.eye(3, dtype=np.float32)[DATA[1]]), name="bad")

        @trainspec.applies_to(BAD)
        def test_bad(run):
            pass
     """, "test_bad", ("field 'loss'", "one-hot targets", "categorical_crossentropy")),
    ("categorical_loss_class_indices", """
        BAD = recipe(loss="categorical_crossentropy", name="bad")

        @trainspec.applies_to(BAD)
        def test_bad(run):
            pass
     """, "test_bad", ("field 'loss'", "one class index per sample")),
    ("binary_loss_targets_out_of_range", """
        BAD = recipe(loss="binary_crossentropy", name="bad")

        @trainspec.applies_to(BAD)
        def test_bad(run):
            pass
     """, "test_bad", ("field 'data'", "takes targets in [0, 1]")),
    ("validation_labels_out_of_range", """
        BAD = recipe(validation_data=(DATA[0][:32], DATA[1][:32] + 5), name="bad")

        @trainspec.applies_to(BAD)
        def test_bad(run):
            pass
     """, "test_bad", ("field 'validation_data'", "labels range over [5, 7]")),
    # user code that raises: the field, the step and the user's own line
    ("metric_raises", """
        def exploding_metric(y_true, y_pred):
            raise ValueError("metric bug")

        BAD = recipe(metrics=[exploding_metric], name="bad")

        @trainspec.applies_to(BAD)
        def test_bad(run):
            pass
     """, "test_bad", ("field 'metrics'", "a metric raised ValueError", "metric bug",
                       'raise ValueError("metric bug")')),
    ("metric_fails_in_the_graph", """
        def gathering_metric(y_true, y_pred):
            import tensorflow as tf
            return tf.gather(y_pred[0], tf.cast(tf.reduce_max(y_true), tf.int32) + 100)

        BAD = recipe(metrics=[gathering_metric], name="bad")

        @trainspec.applies_to(BAD)
        def test_bad(run):
            pass
     """, "test_bad", ("field 'metrics'", "InvalidArgumentError at a step from 0 to",
                       "is not in [0, 3)", "in gathering_metric")),
    ("train_step_raises", """
        def exploding_step(model, optimizer, x, y):
            raise RuntimeError("step bug")

        BAD = recipe(train_step=exploding_step, loss=None, name="bad")

        @trainspec.applies_to(BAD)
        def test_bad(run):
            pass
     """, "test_bad", ("field 'train_step'", "step bug", "in exploding_step")),
    ("callback_raises", """
        class Exploding:
            def set_model(self, model): pass
            def set_params(self, params): pass
            def on_train_begin(self, logs=None): pass
            def on_train_end(self, logs=None): pass
            def on_epoch_end(self, epoch, logs=None):
                raise KeyError("callback bug")

        BAD = recipe(callbacks=[Exploding()], eval_every=10, name="bad")

        @trainspec.applies_to(BAD)
        def test_bad(run):
            pass
     """, "test_bad", ("field 'callbacks'", "on_epoch_end of epoch 0, after step 9",
                       "callback bug", "in on_epoch_end")),
    ("lambda_layer_raises", """
        def lambda_model():
            import keras

            def explode(x):
                raise ValueError("lambda bug")

            return keras.Sequential([keras.Input((2,)), keras.layers.Lambda(explode),
                                     keras.layers.Dense(3, activation="softmax")])

        BAD = recipe(model=lambda_model, name="bad")

        @trainspec.applies_to(BAD)
        def test_bad(run):
            pass
     """, "test_bad", ("field 'model'", "lambda bug", "in explode")),
]


@pytest.fixture(scope="module")
def session(tmp_path_factory) -> dict[str, Any]:
    """One pytest session over every module of SESSION (a subprocess: TensorFlow once)."""
    folder = tmp_path_factory.mktemp("bad_inputs")
    for module, body, _, _ in SESSION:
        (folder / f"test_{module}.py").write_text(PREAMBLE + textwrap.dedent(body))
    env = dict(os.environ, PYTHONPATH=os.pathsep.join(
        [os.path.dirname(os.path.dirname(os.path.abspath(__file__)))] +
        [p for p in os.environ.get("PYTHONPATH", "").split(os.pathsep) if p]))
    proc = subprocess.run(
        [sys.executable, "-m", "pytest", "-p", "no:cacheprovider", "-p", "no:randomly",
         "--trainspec-json", "out.json", "--trainspec-cache", "off", "-q"],
        cwd=folder, env=env, capture_output=True, text=True, timeout=900,
    )
    document = json.loads((folder / "out.json").read_text())
    return {"ret": proc.returncode, "out": proc.stdout + proc.stderr, "doc": document}


def test_the_session_ends_with_status_1_and_the_good_specs_pass(session):
    assert session["ret"] == 1, session["out"][-3000:]
    good = [r for r in session["doc"]["results"] if r["spec"].endswith("::test_good")]
    collected = [m for m, _, spec, _ in SESSION if spec is not None]
    assert sorted(r["nodeid"].split(".py")[0] for r in good) == sorted(
        f"test_{m}" for m in collected
    )
    assert all(r["outcome"] == "passed" for r in good)
    assert "Traceback" not in session["out"] and "site-packages/" not in session["out"]


@pytest.mark.parametrize(("module", "spec", "words"), [(c[0], c[2], c[3]) for c in SESSION],
                         ids=[c[0] for c in SESSION])
def test_each_bad_input_errors_its_own_specs_only(session, module, spec, words):
    doc = session["doc"]
    if spec is None:
        errors = [e for e in doc["collection_errors"] if e["nodeid"] == f"test_{module}.py"]
        assert errors and words in errors[0]["message"], doc["collection_errors"]
        return
    mine = [r for r in doc["results"] if r["nodeid"].startswith(f"test_{module}.py::{spec}")]
    assert mine and all(r["outcome"] == "error" for r in mine), mine
    for part in (words,) if isinstance(words, str) else words:
        assert all(part in r["message"] for r in mine), [r["message"] for r in mine]
        assert part in session["out"]
    for noise in ("Graph execution error", "Detected at node", "[[{{node"):
        assert all(noise not in r["message"] for r in mine)


def test_the_fingerprint_ignores_keras_automatic_optimizer_names():
    import keras

    from trainspec.engine import fingerprint

    def mlp():
        return keras.Sequential([keras.Input((2,)), keras.layers.Dense(2)])

    first = keras.optimizers.SGD(learning_rate=0.1)
    second = keras.optimizers.SGD(learning_rate=0.1)  # Keras names it sgd_1 or so
    assert first.name != second.name
    prints = {fingerprint(recipe(model=mlp, optimizer=opt, learning_rate=None))
              for opt in (first, second)}
    assert len(prints) == 1
