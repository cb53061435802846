"""What used to be invisible to the probes: frozen layers (their weights are read before and after
the run, and must not move), variables that receive no gradient, variables a subclassed model
owns itself, and layers whose activations cannot be probed (recorded in ``Run.unprobed``)."""

from __future__ import annotations

import keras
import numpy as np
import pytest

import trainspec
from trainspec.run import Run
from trainspec.series import Series

DATA = trainspec.datasets.blobs(n=128, classes=3, seed=0)


def recipe(model, **changes):
    fields = dict(model=model, data=DATA, loss="sparse_categorical_crossentropy",
                  optimizer="sgd", learning_rate=0.1, steps=12, batch_size=32, seed=0)
    fields.update(changes)
    return trainspec.Recipe(**fields)


def frozen_model():
    """A random frozen 'base', a 'pretrained' frozen layer (weights moved off their initial
    draw, as training on another task does), a frozen and a trainable BatchNormalization."""
    layers = [keras.Input((2,)), keras.layers.Dense(8, activation="relu", name="base"),
              keras.layers.Dense(8, activation="relu", name="pretrained"),
              keras.layers.BatchNormalization(name="bn_frozen"),
              keras.layers.Dense(8, activation="relu", name="mid"),
              keras.layers.BatchNormalization(name="bn_trained"),
              keras.layers.Dense(3, activation="softmax", name="head")]
    model = keras.Sequential(layers)
    pretrained = model.get_layer("pretrained")
    kernel, bias = pretrained.get_weights()
    pretrained.set_weights([kernel * 3.0, bias + 0.5])
    for name in ("base", "pretrained", "bn_frozen"):
        model.get_layer(name).trainable = False
    return model


class Counter(keras.layers.Layer):
    """Counts its calls in a variable of its own (a layer that updates its own state)."""

    def build(self, shape):
        self.seen = self.add_weight(shape=(), initializer="zeros", trainable=False, name="seen")

    def call(self, x):
        self.seen.assign_add(1.0)
        return x


class Branch(keras.layers.Layer):
    """Owns two kernels and uses one: the other is cut off from the loss."""

    def build(self, shape):
        self.used = self.add_weight(shape=(shape[-1], 3), name="used")
        self.unused = self.add_weight(shape=(shape[-1], 3), name="unused")

    def call(self, x):
        return keras.ops.matmul(x, self.used)


def custom_model():
    """A nested model with a ReLU inside, a frozen Counter, a Branch with an unused kernel."""
    inner = keras.Sequential([keras.Input((2,)),
                              keras.layers.Dense(4, activation="relu", name="inner_relu")],
                             name="inner")
    counter = Counter(name="counter")
    counter.trainable = False
    return keras.Sequential([keras.Input((2,)), inner, counter, keras.layers.Dense(4, name="mid"),
                             Branch(name="branch"), keras.layers.Activation("softmax")])


class Net(keras.Model):
    """A subclassed model with a variable of its own, outside any layer."""

    def __init__(self):
        super().__init__(name="net")
        self.hidden = keras.layers.Dense(4)
        self.scale = self.add_weight(shape=(4, 3), name="scale")

    def call(self, x):
        return keras.ops.softmax(keras.ops.matmul(keras.ops.relu(self.hidden(x)), self.scale))


@pytest.fixture(scope="module")
def frozen_run():
    return trainspec.train(recipe(frozen_model))


@pytest.fixture(scope="module")
def custom_run():
    return trainspec.train(recipe(custom_model))


def test_a_frozen_layer_is_recorded_and_its_weights_do_not_move(frozen_run):
    run = frozen_run
    base = run.layers["base"]
    assert base.trainable is False and "base" in run.layers
    assert [t.name for t in run.layers.frozen()] == ["base", "pretrained", "bn_frozen"]
    # first/last and iteration keep meaning the trainable layers
    assert run.layers.first.name == "mid" and run.layers.last.name == "head"
    assert [t.name for t in run.layers.list()] == ["mid", "bn_trained", "head"]
    assert [t.name for t in run.layers.all()] == ["base", "pretrained", "bn_frozen", "mid",
                                                  "bn_trained", "head"]
    # read before the first step and after the last: equal, so the update ratio is exactly 0
    assert list(base.weight_norm.steps) == [0, run.steps_recorded - 1]
    assert base.weight_norm.first == base.weight_norm.last > 0
    assert base.update_ratio.max() == 0.0 and not base.moved
    assert len(base.grad_norm) == 0  # no gradient is taken for a frozen layer
    # Keras 3 runs a frozen BatchNormalization in inference mode: its statistics stay too
    assert not run.layers["bn_frozen"].moved
    assert run.layers["bn_trained"].trainable and run.layers["bn_trained"].update_ratio.max() > 0


def test_frozen_pretrained_weights_are_told_from_fresh_ones(frozen_run):
    layers = frozen_run.layers
    assert layers["base"].at_initializer is True  # random weights, never trained: a mistake?
    assert layers["pretrained"].at_initializer is False
    assert layers["bn_frozen"].at_initializer is True  # gamma 1, beta 0, statistics 0 and 1


def test_a_frozen_layer_that_changes_its_own_state_shows_it_moved(custom_run):
    trace = custom_run.layers["counter"]
    assert trace.trainable is False and trace.moved
    # one call a step (the reading before the first step follows the eager shape check's call)
    assert trace.weight_norm.last - trace.weight_norm.first == custom_run.steps_recorded


def test_variables_without_a_gradient_are_named(custom_run):
    branch = custom_run.layers["branch"]
    assert len(branch.no_gradient) == 1 and branch.no_gradient[0].endswith("branch/unused")
    assert [t.name for t in custom_run.layers.no_gradient()] == ["branch"]
    assert custom_run.layers["mid"].no_gradient == ()


def test_layers_the_activation_probes_cannot_see_are_recorded(custom_run):
    assert [(u.name, u.kind and str(u.kind)) for u in custom_run.unprobed] == [
        ("inner_relu", "relu"), ("counter", None), ("branch", None)]
    assert "nested model" in custom_run.unprobed[0].reason
    assert "custom layer" in custom_run.unprobed[2].reason


def test_a_subclassed_models_own_variables_are_probed():
    run = trainspec.train(recipe(Net))
    assert [t.name for t in run.layers.list()] == ["dense", "net"]
    assert run.layers["net"].n_params == 12 and run.layers["net"].grad_norm.max() > 0
    assert run.unprobed[0].name == "net" and "subclassed" in run.unprobed[0].reason


def test_a_shared_graph_reads_frozen_weights_of_the_run_that_trained(frozen_run):
    before = trainspec.engine.trace_count()
    other = trainspec.train(recipe(frozen_model, seed=1))  # same graph, other initial weights
    assert trainspec.engine.trace_count() == before  # it did share the traced loop
    a, b = frozen_run.layers["base"], other.layers["base"]
    assert a.weight_norm.first != b.weight_norm.first  # each run's own initial weights
    assert b.weight_norm.first == b.weight_norm.last and not b.moved


def test_frozen_traces_round_trip_through_arrays(frozen_run):
    run = frozen_run
    again = Run.from_arrays(run.to_arrays())
    assert [t.name for t in again.layers.frozen()] == ["base", "pretrained", "bn_frozen"]
    for name in ("base", "mid"):
        for key in ("grad_norm", "weight_norm", "update_ratio"):
            assert getattr(again.layers[name], key) == getattr(run.layers[name], key)
    assert again.layers["base"].at_initializer is True and again.unprobed == run.unprobed


def test_an_old_cache_entry_without_the_new_fields_still_reads(frozen_run):
    import json

    run = frozen_run
    arrays = run.to_arrays()
    meta = json.loads(bytes(arrays["meta"]).decode())
    meta["layers"] = [entry[:4] for entry in meta["layers"] if entry[4]]
    del meta["unprobed"]
    arrays["meta"] = np.frombuffer(json.dumps(meta).encode(), dtype=np.uint8)
    arrays = {k: v for k, v in arrays.items() if not k.startswith("layer")}
    for i, t in enumerate(run.layers.list()):
        for key in ("grad_norm", "weight_norm", "update_ratio"):
            arrays[f"layer{i}_{key}"] = np.asarray(getattr(t, key))
    old = Run.from_arrays(arrays)
    assert old.layers.frozen() == [] and old.unprobed == () and len(old.layers) == 3


def test_looking_up_a_missing_layer_names_the_frozen_ones_too(frozen_run):
    with pytest.raises(KeyError, match="recorded: base, pretrained, bn_frozen, mid"):
        frozen_run.layers["nope"]
    assert isinstance(frozen_run.layers["base"].weight_norm, Series)
