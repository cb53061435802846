"""Models of several inputs and outputs: x and y as lists or dicts, a loss and metrics per
output, per-output series, datasets of dicts, and errors that name the array or the field."""

from __future__ import annotations

import json
import textwrap

import keras
import numpy as np
import pydantic
import pytest
import tensorflow as tf

import trainspec
from trainspec import expect
from trainspec.engine import clear_memo, fingerprint
from trainspec.engine.prepare import prepare
from trainspec.exceptions import RecipeError
from trainspec.run import Run

RNG = np.random.default_rng(0)
XA = RNG.normal(size=(256, 4)).astype("float32")
XB = RNG.normal(size=(256, 3)).astype("float32")
Y_CLS = ((XA[:, 0] + XB[:, 0]) > 0).astype("int32")
Y_REG = (XA[:, 1] - XB[:, 1]).astype("float32")[:, None]


def two_inputs():
    a, b = keras.Input((4,), name="a"), keras.Input((3,), name="b")
    h = keras.layers.Dense(8, activation="relu")(keras.layers.Concatenate()([a, b]))
    return keras.Model([a, b], keras.layers.Dense(2)(h))


def two_outputs():
    a, b = keras.Input((4,), name="a"), keras.Input((3,), name="b")
    h = keras.layers.Dense(8, activation="relu")(keras.layers.Concatenate()([a, b]))
    return keras.Model({"a": a, "b": b}, {"cls": keras.layers.Dense(2, name="cls")(h),
                                          "reg": keras.layers.Dense(1, name="reg")(h)})


XENT = keras.losses.SparseCategoricalCrossentropy(from_logits=True)


def two_in(x, **changes):
    fields = dict(model=two_inputs, data=(x, Y_CLS), loss=XENT, optimizer="adam",
                  learning_rate=0.02, steps=30, batch_size=32, metrics=["accuracy"], seed=0)
    return trainspec.Recipe(**{**fields, **changes})


def two_out(data=None, **changes):
    fields = dict(model=two_outputs, data=data or ({"a": XA, "b": XB}, {"cls": Y_CLS, "reg": Y_REG}),
                  loss={"cls": XENT, "reg": "mse"}, metrics={"cls": ["accuracy"], "reg": ["mae"]},
                  optimizer="adam", learning_rate=0.02, steps=30, batch_size=32, seed=0,
                  validation_split=0.25, eval_every=15)
    return trainspec.Recipe(**{**fields, **changes})


def same_bits(a: Run, b: Run) -> bool:
    return (a.fingerprint == b.fingerprint and list(a.metrics) == list(b.metrics)
            and np.array_equal(a.loss.values, b.loss.values)
            and all(np.array_equal(a.metrics[k].values, b.metrics[k].values) for k in a.metrics))


def test_two_inputs_by_position_or_by_name_are_one_recipe():
    by_name = trainspec.train(two_in({"b": XB, "a": XA}))
    assert by_name.loss.relative_decrease() > 0.3 and by_name.finite
    assert list(by_name.metrics) == ["accuracy"] and by_name.n_classes == 2  # one output
    # matched to model.inputs, x by name and x by position hash (and train) the same
    assert fingerprint(two_in([XA, XB])) == by_name.fingerprint
    with pytest.raises(RecipeError, match=r"per-sample shapes data x\[0\] \(3\), data x\[1\] "
                       r"\(4\); the model expects inputs of shape \(\(None, 4\), \(None, 3\)\)"):
        fingerprint(two_in([XB, XA]))  # by position: in the order of model.inputs


def test_two_outputs_record_keras_style_per_output_series():
    recipe = two_out()
    run = trainspec.train(recipe)
    assert list(run.metrics) == ["cls_loss", "reg_loss", "cls_accuracy", "reg_mae"]
    assert set(run.val) == {"val_loss", "val_cls_loss", "val_reg_loss", "val_cls_accuracy",
                            "val_reg_mae"}
    # the total loss is the sum of the per-output losses (unit loss weights, as Keras' fit)
    np.testing.assert_allclose(run.loss.values, run.metric("cls_loss").values
                               + run.metric("reg_loss").values, rtol=1e-5)
    assert run.metric("reg_loss").relative_decrease() > 0.3
    assert run.outputs == ("cls", "reg") and run.output_classes == {"cls": 2, "reg": None}
    assert run.classes_of("cls_accuracy") == 2 and run.n_classes is None
    expect(run).accuracy_above_chance(metric="cls_accuracy", margin=0.2)
    again = Run.from_arrays(run.to_arrays())
    assert same_bits(run, again) and again.outputs == run.outputs
    assert again.output_classes == run.output_classes and again.val == run.val
    trainspec.diagnose(run, recipe)  # the doctor reads a multi-output run without failing
    # by position: x, y, loss and metrics as lists give the same series
    listed = prepare(two_out(data=([XA, XB], [Y_CLS, Y_REG]), loss=[XENT, "mse"],
                             metrics=[["accuracy"], ["mae"]]))
    assert [name for name, _ in listed.metric_fns] == list(run.metrics)


def test_a_dataset_of_dicts_is_the_array_recipe_bitwise():
    arrays = two_out()
    dataset = tf.data.Dataset.from_tensor_slices(
        ({"a": XA, "b": XB}, {"cls": Y_CLS, "reg": Y_REG})).batch(50)
    from_dataset = two_out(data=dataset)
    assert fingerprint(from_dataset) == fingerprint(arrays)
    expected = trainspec.train(arrays)
    clear_memo()
    assert same_bits(trainspec.train(from_dataset), expected)


@pytest.mark.parametrize(
    ("changes", "words"),
    [
        ({"data": ({"a": XA, "b": XB[:100]}, {"cls": Y_CLS, "reg": Y_REG})},
         "data x['b'] has 100 samples but data x['a'] has 256"),
        ({"loss": {"cls": XENT}}, "loss has no entry for the output 'reg'"),
        ({"loss": [XENT]}, "loss is a list of 1 losses but data y holds 2 targets"),
        ({"metrics": [["accuracy"], 3]}, "per-output metrics are a list of lists"),
        ({"data": ({"a": XA, "b": XB}, {"cls": Y_CLS, "reg": Y_REG[:9]})},
         "data y['reg'] has 9 samples but data y['cls'] has 256"),
    ],
)
def test_bad_structures_are_refused_when_the_recipe_is_built(changes, words):
    with pytest.raises(pydantic.ValidationError) as info:
        two_out(**changes)
    assert words in str(info.value)


@pytest.mark.parametrize(
    ("changes", "field", "words"),
    [
        ({"data": ({"a": XA, "c": XB}, {"cls": Y_CLS, "reg": Y_REG})}, "data",
         "data x['c'] matches no model input; the model's inputs are 'a', 'b'"),
        ({"data": ([XA, XB, XA], {"cls": Y_CLS, "reg": Y_REG})}, "data",
         "data x is a list of 3 arrays but the model has 2 input(s)"),
        ({"data": ({"a": XA, "b": XB}, Y_CLS), "loss": XENT, "metrics": []}, "data",
         "the model has 2 outputs ('cls', 'reg') but data y is one array"),
        ({"data": ({"a": XA, "b": XB}, [Y_CLS, Y_REG]), "loss": {"cls": XENT}}, "loss",
         "loss has no entry for the output 'reg'; give one for every model output"),
        ({"metrics": {"klass": ["accuracy"]}}, "metrics", "metrics['klass'] matches no model output"),
        ({"metrics": ["mae"]}, "metrics",  # a flat list is for every output, 'cls' included
         "the metric 'mae' of output 'cls' cannot compare targets data y['cls']"),
        ({"data": ({"a": XA, "b": XB}, {"cls": Y_CLS + 5, "reg": Y_REG})}, "data",
         "data y['cls'] labels range over [5, 6] but the model has 2 outputs"),
    ],
)
def test_bad_structures_against_the_model_name_the_field(changes, field, words):
    with pytest.raises(RecipeError) as info:
        trainspec.train(two_out(**changes))
    assert info.value.field == field and words in str(info.value)


def test_a_multi_output_spec_under_the_plugin_records_per_output_curves(pytester):
    pytester.makepyfile(test_multi=textwrap.dedent("""
        import keras
        import numpy as np
        import trainspec

        rng = np.random.default_rng(1)
        X = rng.normal(size=(128, 3)).astype("float32")
        Y = {"kind": (X[:, 0] > 0).astype("int32"), "size": X[:, 1:2] * 2}

        def build():
            x = keras.Input((3,))
            h = keras.layers.Dense(8, activation="relu")(x)
            return keras.Model(x, [keras.layers.Dense(2, activation="softmax", name="kind")(h),
                                   keras.layers.Dense(1, name="size")(h)])

        RECIPE = trainspec.Recipe(model=build, data=(X, Y), optimizer="adam", learning_rate=0.05,
                                  loss={"kind": "sparse_categorical_crossentropy", "size": "mse"},
                                  metrics={"kind": ["accuracy"]}, steps=30, batch_size=16)

        @trainspec.applies_to(RECIPE)
        def test_both_outputs_learn(run):
            trainspec.expect(run).accuracy_above_chance(metric="kind_accuracy", margin=0.1)
            assert run.metric("size_loss").relative_decrease() > 0.3
    """))
    result = pytester.runpytest("--trainspec-json", "out.json", "-p", "no:cacheprovider")
    result.assert_outcomes(passed=1)
    doc = json.loads((pytester.path / "out.json").read_text())
    (entry,) = doc["results"]
    series = entry["runs"][0]["series"]
    per_output = {"metric:kind_loss", "metric:size_loss", "metric:kind_accuracy"}
    assert per_output <= set(series) and all(len(series[k]) == 30 for k in per_output)
    assert entry["summary"]["metrics_last"].keys() == {"kind_loss", "size_loss", "kind_accuracy"}
