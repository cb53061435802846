"""trainspec.train: what a run records, and how bad input fails."""

from __future__ import annotations

import hashlib
import subprocess
import sys
import textwrap

import numpy as np
import pytest

import trainspec
from tests.conftest import small_mlp
from trainspec import ActivationKind


def test_a_healthy_run_records_every_probe(healthy_run):
    run = healthy_run
    assert run.steps_recorded == 120 and run.finite and run.nonfinite is None
    assert np.asarray(run.loss).shape == (120,)
    assert run.loss.relative_decrease() > 0.5
    assert run.metrics["accuracy"].median(20) > 0.8
    assert [t.name for t in run.layers.list()] == ["dense", "dense_1", "dense_2"]
    for layer in run.layers.list():
        for series in (layer.grad_norm, layer.weight_norm, layer.update_ratio):
            assert len(series) == 120 and np.all(np.isfinite(series)) and series.min() > 0
    kinds = [a.kind for a in run.activations.list()]
    assert kinds == [ActivationKind.RELU, ActivationKind.RELU, ActivationKind.SOFTMAX]
    relu = run.activations["dense"]
    assert 0.0 <= relu.dead.max() <= 1.0 and relu.std.min() > 0
    assert run.histograms is not None and run.histograms.weights.shape == (5, 3, 30, 3)
    assert run.histograms.weights[0, 0, :, 2].sum() == 2 * 16 + 16  # every kernel/bias value
    assert run.n_classes == 3 and run.output_activation == "softmax"


def test_update_ratio_is_the_relative_weight_change(blobs):
    # plain SGD: ||dW|| = lr * ||g|| exactly, so ratio * ||W_before|| == lr * grad_norm
    recipe = trainspec.Recipe(model=small_mlp(), data=blobs, loss="sparse_categorical_crossentropy",
                              optimizer="sgd", learning_rate=0.05, steps=5, batch_size=16)
    run = trainspec.train(recipe)
    layer = run.layers.first
    w_before = np.asarray(layer.weight_norm)[:-1]
    moved = np.asarray(layer.update_ratio)[1:] * w_before
    np.testing.assert_allclose(moved, 0.05 * np.asarray(layer.grad_norm)[1:], rtol=1e-3)


def test_sigmoid_saturation_and_dead_relu_are_measured(blobs):
    import keras

    def dead_relu():
        return keras.Sequential([
            keras.Input((2,)),
            keras.layers.Dense(8, activation="relu", bias_initializer=keras.initializers.Constant(-50.0)),
            keras.layers.Dense(8, activation="sigmoid", kernel_initializer=keras.initializers.Constant(3.0)),
            keras.layers.Dense(3),
        ])

    run = trainspec.train(trainspec.Recipe(model=dead_relu, data=(blobs[0] * 10, blobs[1]), steps=5,
                                           loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True),
                                           optimizer="sgd", batch_size=32))
    assert run.activations["dense"].dead.first == 1.0
    assert run.activations["dense_1"].kind is ActivationKind.SIGMOID
    assert run.activations["dense_1"].dead.first == 0.0
    assert run.layers.first.grad_norm.max() == 0.0  # nothing flows through dead units


def test_divergence_stops_recording_and_names_step_and_tensor(blobs):
    import keras

    recipe = trainspec.Recipe(model=lambda: keras.Sequential(
                                  [keras.Input((2,))]
                                  + [keras.layers.Dense(64, activation="relu") for _ in range(4)]
                                  + [keras.layers.Dense(3)]),
                              data=(blobs[0] * 100, blobs[1]),
                              loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True),
                              optimizer="sgd", learning_rate=50.0, steps=200, batch_size=32)
    run = trainspec.train(recipe)
    assert not run.finite
    nf = run.nonfinite
    assert 0 < nf.step < 200 and run.steps_recorded == nf.step
    assert np.all(np.isfinite(run.loss))
    assert "step" in str(nf) and nf.tensor
    assert run.summary()["nonfinite"] == {"step": nf.step, "tensor": nf.tensor}


def test_same_recipe_trains_once_per_process(healthy, healthy_run):
    first = trainspec.train(healthy)  # other tests may have cleared the memo since healthy_run
    assert np.array_equal(first.loss, healthy_run.loss)
    assert trainspec.train(healthy) is first
    # a new but identical recipe object shares the run too
    assert trainspec.train(healthy.replace()) is first
    assert trainspec.train(healthy.replace(seed=1)) is not first


def test_the_same_recipe_object_is_not_prepared_again_unless_its_data_changed(
        blobs, monkeypatch):
    from trainspec.engine import api

    x, y = blobs
    recipe = trainspec.Recipe(
        model=small_mlp(), data=(x.copy(), y.copy()), loss="sparse_categorical_crossentropy",
        optimizer="sgd", learning_rate=0.1, steps=30, seed=0, name="again",
    )
    first = trainspec.train(recipe)
    real_prepare = api.prepare
    calls = []
    monkeypatch.setattr(api, "prepare", lambda r: calls.append(r) or real_prepare(r))
    assert trainspec.train(recipe) is first
    assert calls == []
    recipe.data[0][:] *= 2.0  # changed in place: the recipe must be prepared and trained again
    second = trainspec.train(recipe)
    assert len(calls) == 1
    assert second.fingerprint != first.fingerprint


def test_the_model_passed_in_is_never_changed(blobs):
    import keras

    keras.utils.set_random_seed(3)
    model = small_mlp()()
    before = [w.copy() for w in model.get_weights()]
    recipe = trainspec.Recipe(model=model, data=blobs, loss="sparse_categorical_crossentropy",
                              optimizer="sgd", learning_rate=0.1, steps=30)
    first = trainspec.train(recipe)
    for a, b in zip(before, model.get_weights(), strict=False):
        np.testing.assert_array_equal(a, b)
    trainspec.engine.clear_memo()
    again = trainspec.train(recipe)
    assert again is not first
    np.testing.assert_array_equal(np.asarray(again.loss), np.asarray(first.loss))


def test_a_compiled_model_supplies_loss_and_optimizer(blobs):
    import keras

    model = small_mlp()()
    model.compile(loss="sparse_categorical_crossentropy", optimizer=keras.optimizers.SGD(0.1))
    optimizer = model.optimizer
    run = trainspec.train(trainspec.Recipe(model=model, data=blobs, steps=40, metrics=["accuracy"]))
    assert run.loss_name == "sparse_categorical_crossentropy" and run.loss.relative_decrease() > 0.3
    assert int(optimizer.iterations.numpy()) == 0  # the user's optimizer is copied, not used


def test_custom_gradient_tape_step_is_probed(blobs):
    import keras
    import tensorflow as tf

    def logits_mlp():
        return keras.Sequential([keras.Input((2,)), keras.layers.Dense(16, activation="relu"),
                                 keras.layers.Dense(3)])

    def train_step(model, optimizer, x, y):
        with tf.GradientTape() as tape:
            logits = model(x, training=True)
            loss = tf.reduce_mean(
                tf.nn.sparse_softmax_cross_entropy_with_logits(labels=y, logits=logits))
        grads = tape.gradient(loss, model.trainable_variables)
        optimizer.apply_gradients(zip(grads, model.trainable_variables, strict=False))
        return loss

    recipe = trainspec.Recipe(model=logits_mlp, data=blobs, train_step=train_step,
                              optimizer="sgd", learning_rate=0.1, steps=60, metrics=["accuracy"])
    run = trainspec.train(recipe)
    assert run.loss.relative_decrease() > 0.5
    assert run.layers.first.grad_norm.min() > 0
    assert run.metrics["accuracy"].median(10) > 0.8
    assert run.activations["dense"].kind is ActivationKind.RELU


def test_a_custom_step_that_never_applies_gradients_is_an_error(blobs):
    def lazy_step(model, optimizer, x, y):
        return 0.0 * model(x)[:, 0]

    recipe = trainspec.Recipe(model=small_mlp(), data=blobs, train_step=lazy_step,
                              optimizer="sgd", steps=5)
    with pytest.raises(trainspec.RecipeError, match="never called optimizer.apply_gradients"):
        trainspec.train(recipe)


def test_validation_and_early_stopping_callbacks(blobs):
    import keras

    stop = keras.callbacks.EarlyStopping(monitor="val_loss", patience=1, min_delta=10.0)
    recipe = trainspec.Recipe(model=small_mlp(), data=blobs, loss="sparse_categorical_crossentropy",
                              optimizer="sgd", learning_rate=0.1, steps=200, eval_every=20,
                              validation_split=0.25, callbacks=[stop], metrics=["accuracy"])
    run = trainspec.train(recipe)
    # min_delta=10 means no epoch ever "improves": training stops after patience+1 evaluations
    assert run.stopped_early_at == 40 and run.steps_recorded == 40
    assert list(run.val_history["val_loss"].steps) == [19, 39]
    assert set(run.val) == {"val_loss", "val_accuracy"}


@pytest.mark.parametrize(
    ("changes", "error", "words"),
    [
        ({"data": (np.zeros((64, 5), np.float32), np.zeros(64, np.int32))}, trainspec.DataError,
         "per-sample shape (5)"),
        ({"data": (np.zeros((64, 2), np.float32), np.full(64, 7))}, trainspec.DataError,
         "labels range over [7, 7] but the model has 3 outputs"),
        ({"data": (np.zeros((64, 2), np.float32), np.zeros((64, 5), np.float32)),
          "loss": "categorical_crossentropy"}, trainspec.DataError, "cannot compare targets"),
        ({"loss": None}, trainspec.RecipeError, "no loss"),
        ({"optimizer": {"name": "sgd", "momentum_typo": 0.9}}, trainspec.RecipeError,
         "could not create optimizer"),
    ],
)
def test_bad_input_at_train_time_reads_as_one_sentence(changes, error, words):
    fields = dict(model=small_mlp(), data=(np.zeros((64, 2), np.float32), np.zeros(64, np.int32)),
                  loss="sparse_categorical_crossentropy", optimizer="sgd", steps=5, batch_size=8)
    fields.update(changes)
    with pytest.raises(error) as info:
        trainspec.train(trainspec.Recipe(**fields))
    assert words in str(info.value)
    assert "Traceback" not in str(info.value)


def test_a_builder_that_raises_is_named_with_its_line(blobs):
    def broken_builder():
        raise RuntimeError("typo in layer size")

    expected = r"broken_builder\(\) raised RuntimeError: typo in layer size \(at .*test_engine.py:\d+\)"
    with pytest.raises(trainspec.BuildError, match=expected):
        trainspec.train(trainspec.Recipe(model=broken_builder, data=blobs, loss="mse", optimizer="sgd"))


def test_a_builder_that_returns_no_model(blobs):
    with pytest.raises(trainspec.BuildError, match="returned NoneType, not a keras.Model"):
        trainspec.train(trainspec.Recipe(model=lambda: None, data=blobs, loss="mse", optimizer="sgd"))


def test_a_model_without_trainable_weights(blobs):
    def frozen():
        model = small_mlp()()
        model.trainable = False
        return model

    with pytest.raises(trainspec.RecipeError, match="no trainable weights"):
        trainspec.train(trainspec.Recipe(model=frozen, data=blobs, loss="sparse_categorical_crossentropy",
                                         optimizer="sgd"))


_RUN_IN_CHILD = textwrap.dedent(
    """
    import hashlib, sys
    import numpy as np, keras, trainspec
    from trainspec import datasets

    def build():
        return keras.Sequential([keras.Input((2,)), keras.layers.Dense(32, activation="relu"),
                                 keras.layers.Dropout(0.2), keras.layers.Dense(3, activation="softmax")])

    recipe = trainspec.Recipe(model=build, data=datasets.blobs(n=512, classes=3, seed=4),
                              loss="sparse_categorical_crossentropy", optimizer="adam",
                              steps=80, batch_size=16, metrics=["accuracy"], seed=7)
    arrays = trainspec.train(recipe).to_arrays()
    digest = hashlib.sha256()
    for key in sorted(k for k in arrays if k != "meta"):
        digest.update(key.encode() + arrays[key].tobytes())
    print("DIGEST", digest.hexdigest())
    """
)


def test_recorded_metrics_are_bitwise_identical_across_processes(tmp_path):
    script = tmp_path / "child.py"
    script.write_text(_RUN_IN_CHILD)
    digests = []
    for _ in range(2):
        out = subprocess.run([sys.executable, str(script)], capture_output=True, text=True,
                             timeout=240, check=True).stdout
        digests.append([line for line in out.splitlines() if line.startswith("DIGEST")][0])
    assert digests[0] == digests[1]
    assert len(digests[0]) == len("DIGEST ") + 64


def test_recorded_metrics_are_bitwise_identical_in_process(healthy):
    first = trainspec.train(healthy.replace(seed=5))
    trainspec.engine.clear_memo()
    second = trainspec.train(healthy.replace(seed=5))
    assert first is not second
    a, b = first.to_arrays(), second.to_arrays()
    assert sorted(a) == sorted(b)
    for key in a:
        if key != "meta":
            assert hashlib.sha256(a[key].tobytes()).digest() == hashlib.sha256(b[key].tobytes()).digest(), key


def test_run_round_trips_through_arrays(healthy_run):
    again = trainspec.Run.from_arrays(healthy_run.to_arrays(), from_cache=True)
    assert again.from_cache and again.loss == healthy_run.loss
    assert again.layers.first.update_ratio == healthy_run.layers.first.update_ratio
    assert again.activations.last.kind is healthy_run.activations.last.kind
    assert again.summary() == healthy_run.summary()
