"""The fingerprint covers the Python code that decides a run: an edited model, layer, function,
closure, default argument, loss, metric, train_step or callback never gets a stale run from the
disk cache or the in-process memo."""

from __future__ import annotations

import json
import textwrap
import warnings

import keras
import numpy as np

import trainspec
from trainspec import datasets
from trainspec.engine import clear_memo, fingerprint
from trainspec.engine.codehash import UncachedRunWarning, code_digest

# -- code_digest -------------------------------------------------------------------------------


def test_lambdas_differing_in_a_constant_differ():
    assert code_digest(lambda t: t * 1.0).digest != code_digest(lambda t: t * 0.0).digest
    assert code_digest(lambda t: t * 1.0).digest == code_digest(lambda t: t * 1.0).digest


def test_closed_over_values_and_defaults_count():
    def make(scale):
        return lambda t: t * scale

    assert code_digest(make(1.0)).digest != code_digest(make(2.0)).digest
    assert code_digest(make(1.0)).digest == code_digest(make(1.0)).digest

    def act(t, k=1.0):
        return t * k

    before = code_digest(act).digest
    act.__defaults__ = (2.0,)
    assert code_digest(act).digest != before


HELPER_SCALE = 2.0


def _helper(t):
    return t * HELPER_SCALE


def test_globals_and_helpers_are_followed(monkeypatch):
    def act(t):
        return _helper(t) + 1.0

    before = code_digest(act).digest
    monkeypatch.setattr(f"{__name__}.HELPER_SCALE", 3.0)  # a global the helper reads
    assert code_digest(act).digest != before


def test_layers_are_hashed_by_code_not_by_name():
    class Relu(keras.layers.Layer):
        def call(self, x):
            return keras.ops.relu(x)

    class Sigmoid(keras.layers.Layer):
        def call(self, x):
            return keras.ops.sigmoid(x)

    # two instances get different automatic names (relu, relu_1): one digest
    assert code_digest(Relu()).digest == code_digest(Relu()).digest
    assert code_digest(Relu()).digest != code_digest(Sigmoid()).digest
    opt = [keras.optimizers.SGD(), keras.optimizers.SGD()]  # sgd, sgd_1
    assert opt[0].name != opt[1].name
    assert code_digest(opt[0]).digest == code_digest(opt[1]).digest
    assert code_digest(opt[0]).digest != code_digest(keras.optimizers.SGD(momentum=0.9)).digest


def test_comments_do_not_count_and_compiled_code_is_unreadable():
    ns1: dict = {}
    ns2: dict = {}
    exec("def f(t):\n    return t * 2\n", ns1)
    exec("def f(t):\n    # doubled\n\n    return t * 2\n", ns2)
    assert code_digest(ns1["f"]).digest == code_digest(ns2["f"]).digest
    assert code_digest(np.tanh).readable and code_digest(len).readable
    opaque = np.frompyfunc(lambda t: t, 1, 1)  # a ufunc wrapping code it does not expose
    assert "cannot be read" in code_digest(opaque).unreadable[0]


# -- the in-process memo -----------------------------------------------------------------------

DATA = datasets.blobs(n=128, classes=3, seed=0)


def tiny(model, **changes):
    fields = dict(model=model, data=DATA, loss="sparse_categorical_crossentropy",
                  optimizer="sgd", learning_rate=0.1, steps=20, batch_size=32, seed=0)
    fields.update(changes)
    return trainspec.Recipe(**fields)


def with_lambda(fn):
    def build():
        return keras.Sequential([keras.Input((2,)), keras.layers.Dense(3), keras.layers.Lambda(fn),
                                 keras.layers.Softmax()])
    return build


def test_the_memo_tells_lambdas_apart():
    clear_memo()
    one = trainspec.train(tiny(with_lambda(lambda t: t * 1.0)))
    zero = trainspec.train(tiny(with_lambda(lambda t: t * 0.0)))
    assert one.fingerprint != zero.fingerprint
    assert float(np.ptp(np.asarray(zero.loss))) == 0.0  # logits are zero: nothing learns
    assert one.loss.last < one.loss.first


class _Silent(keras.layers.Layer):  # no get_config: its config says nothing of its call()
    def call(self, x):
        return keras.ops.relu(x)


class _Loud(keras.layers.Layer):
    def call(self, x):
        return keras.ops.tanh(x)


def with_layer(cls):
    def build():
        return keras.Sequential([keras.Input((2,)), keras.layers.Dense(8), cls(),
                                 keras.layers.Dense(3, activation="softmax")])
    return build


def test_the_memo_tells_config_less_custom_layers_apart():
    clear_memo()
    a = trainspec.train(tiny(with_layer(_Silent)))
    b = trainspec.train(tiny(with_layer(_Loud)))
    assert a.fingerprint != b.fingerprint
    clear_memo()
    fresh = trainspec.train(tiny(with_layer(_Loud)))
    assert np.array_equal(np.asarray(fresh.loss), np.asarray(b.loss))


class _Stop(keras.callbacks.Callback):
    def __init__(self, at):
        super().__init__()
        self.at = at

    def on_epoch_end(self, epoch, logs=None):
        if epoch + 1 >= self.at:
            self.model.stop_training = True


def test_the_memo_tells_callbacks_apart():
    clear_memo()
    base = tiny(with_layer(_Silent), eval_every=5)
    early = trainspec.train(base.replace(callbacks=[_Stop(1)]))
    later = trainspec.train(base.replace(callbacks=[_Stop(3)]))
    patient = trainspec.train(base.replace(callbacks=[keras.callbacks.EarlyStopping(
        monitor="loss", patience=50)]))
    assert (early.steps_recorded, later.steps_recorded, patient.steps_recorded) == (5, 15, 20)


def test_a_mutated_global_is_seen_through_the_same_recipe_object(monkeypatch):
    clear_memo()
    recipe = tiny(with_lambda(lambda t: _helper(t)))
    first = trainspec.train(recipe)
    monkeypatch.setattr(f"{__name__}.HELPER_SCALE", 0.0)
    second = trainspec.train(recipe)  # same recipe object: the fast path must look again
    assert second.fingerprint != first.fingerprint
    assert float(np.ptp(np.asarray(second.loss))) == 0.0


def test_unreadable_code_is_trained_every_time_and_said_once():
    clear_memo()
    opaque = np.frompyfunc(lambda t: t, 1, 1)

    def loss(y_true, y_pred):
        del opaque  # noqa: F821  (refers to the closed-over ufunc; never executed)

    def real_loss(y_true, y_pred, _opaque=opaque):
        return keras.losses.sparse_categorical_crossentropy(y_true, y_pred)

    recipe = tiny(with_layer(_Silent), loss=real_loss)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        first = trainspec.train(recipe)
        second = trainspec.train(recipe)
    assert first is not second  # not memoised
    assert np.array_equal(np.asarray(first.loss), np.asarray(second.loss))
    said = [w for w in caught if issubclass(w.category, UncachedRunWarning)]
    assert len(said) == 1 and "cannot be read" in str(said[0].message)
    assert fingerprint(recipe) == first.fingerprint


# -- two sessions with the disk cache ----------------------------------------------------------

MODULE = textwrap.dedent(
    '''
    import keras
    import numpy as np
    import tensorflow as tf
    import trainspec
    from trainspec import datasets

    DATA = datasets.blobs(n=128, classes=3, seed=0)
    SCALE = 1.0

    def recipe(model, **changes):
        fields = dict(model=model, data=DATA, loss="sparse_categorical_crossentropy",
                      optimizer="sgd", learning_rate=0.1, steps=20, batch_size=32, seed=0,
                      metrics=["accuracy"])
        fields.update(changes)
        return trainspec.Recipe(**fields)

    def head(middle):
        def build():
            return keras.Sequential([keras.Input((2,)), keras.layers.Dense(8), *middle(),
                                     keras.layers.Dense(3, activation="softmax")])
        return build

    class Net(keras.Model):
        def __init__(self):
            super().__init__()
            self.hidden = keras.layers.Dense(8)
            self.out = keras.layers.Dense(3, activation="softmax")

        def call(self, x):
            return self.out(keras.ops.relu(self.hidden(x)))  # EDIT:model

    class Custom(keras.layers.Layer):
        def call(self, x):
            return keras.ops.relu(x)  # EDIT:layer

    def helper(t):
        return t * SCALE  # EDIT:helper

    class UsesHelper(keras.layers.Layer):
        def call(self, x):
            return keras.ops.relu(helper(x))

    def act(t):
        return keras.ops.relu(t)  # EDIT:activation

    def scaled(k):
        return lambda t: t * k

    def shifted(t, shift=0.0):  # EDIT:default
        return keras.ops.relu(t + shift)

    def my_loss(y_true, y_pred):
        return keras.losses.sparse_categorical_crossentropy(y_true, y_pred)  # EDIT:loss

    def my_metric(y_true, y_pred):
        return keras.ops.mean(y_pred)  # EDIT:metric

    def step(model, optimizer, x, y):
        with tf.GradientTape() as tape:
            loss = tf.reduce_mean(keras.losses.sparse_categorical_crossentropy(y, model(x)))
        grads = tape.gradient(loss, model.trainable_variables)
        grads = [g * 1.0 for g in grads]  # EDIT:train_step
        optimizer.apply_gradients(zip(grads, model.trainable_variables))
        return loss

    RECIPES = {
        "model": recipe(Net),
        "layer": recipe(head(lambda: [Custom()])),
        "helper": recipe(head(lambda: [UsesHelper()])),
        "activation": recipe(head(lambda: [keras.layers.Activation(act)])),
        "lambda": recipe(head(lambda: [keras.layers.Lambda(lambda t: keras.ops.relu(t * 1.0))])),
        "closure": recipe(head(lambda: [keras.layers.Lambda(scaled(1.0))])),  # EDIT:closure
        "default": recipe(head(lambda: [keras.layers.Activation(shifted)])),
        "loss": recipe(head(lambda: [keras.layers.ReLU()]), loss=my_loss),
        "metric": recipe(head(lambda: [keras.layers.ReLU()]), metrics=[my_metric]),
        "train_step": recipe(head(lambda: [keras.layers.ReLU()]), train_step=step),
        "unchanged": recipe(head(lambda: [keras.layers.ReLU()])),
    }

    @trainspec.applies_to(*[r.replace(name=n) for n, r in RECIPES.items()])
    def test_trains(run):
        assert run.steps_recorded == 20
    '''
)

EDITS = {
    "model": ("keras.ops.relu(self.hidden(x))", "keras.ops.sigmoid(self.hidden(x))"),
    "layer": ("return keras.ops.relu(x)  # EDIT:layer", "return keras.ops.tanh(x)  # EDIT:layer"),
    "helper": ("t * SCALE", "t * SCALE * 3.0"),
    "activation": ("return keras.ops.relu(t)  # EDIT:activation",
                   "return keras.ops.sigmoid(t)  # EDIT:activation"),
    "lambda": ("keras.ops.relu(t * 1.0)", "keras.ops.relu(t * 0.5)"),
    "closure": ("scaled(1.0)", "scaled(0.25)"),
    "default": ("shift=0.0", "shift=0.5"),
    "loss": ("sparse_categorical_crossentropy(y_true, y_pred)  # EDIT:loss",
             "sparse_categorical_crossentropy(y_true, y_pred) * 2.0  # EDIT:loss"),
    "metric": ("keras.ops.mean(y_pred)", "keras.ops.max(y_pred)"),
    "train_step": ("g * 1.0", "g * 0.5"),
}


def _session(pytester, *args):
    clear_memo()
    result = pytester.runpytest("-p", "no:cacheprovider", "--trainspec-json", "out.json", *args)
    document = json.loads((pytester.path / "out.json").read_text())
    runs = {r["runs"][0]["label"]: r["runs"][0] for r in document["results"]}
    return result, runs


def test_every_kind_of_edited_code_retrains_and_matches_a_cache_off_run(pytester):
    pytester.makepyfile(test_code=MODULE)
    first, before = _session(pytester)
    assert first.ret == 0, first.stdout.str()
    assert not any(r["from_cache"] for r in before.values())
    source = MODULE
    for old, new in EDITS.values():
        assert source.count(old) == 1, old
        source = source.replace(old, new)
    pytester.makepyfile(test_code=source)
    second, after = _session(pytester)
    assert second.ret == 0, second.stdout.str()
    _, truth = _session(pytester, "--trainspec-cache=off")
    assert after["unchanged"]["from_cache"]  # the control: nothing else invalidates entries
    for kind in EDITS:
        assert not after[kind]["from_cache"], f"{kind}: a stale run came from the cache"
        assert after[kind]["fingerprint"] != before[kind]["fingerprint"], kind
        assert after[kind]["summary"] == truth[kind]["summary"], kind
    changed = [k for k in EDITS if after[k]["summary"] != before[k]["summary"]]
    assert len(changed) == len(EDITS), f"edits that changed nothing: {set(EDITS) - set(changed)}"
