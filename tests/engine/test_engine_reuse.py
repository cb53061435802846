"""trainspec.engine: runs that differ only in values the graph reads (learning rate, data,
weights) share one traced loop, and record exactly the bits a fresh trace records."""

from __future__ import annotations

import json
import logging

import keras
import numpy as np
import pytest
import tensorflow as tf

import trainspec
from tests.conftest import small_mlp
from trainspec import engine
from trainspec.engine import graphs as kept
from trainspec.engine import memo
from trainspec.engine.prepare import prepare


@pytest.fixture
def graphs(monkeypatch):
    """Start with no memoised runs, no kept graphs and no disk cache; forget them after."""
    monkeypatch.setattr(memo, "STORES", [])
    monkeypatch.delenv("TRAINSPEC_GRAPH_REUSE", raising=False)
    engine.clear_memo()
    engine.clear_graphs()
    yield monkeypatch
    engine.clear_memo()
    engine.clear_graphs()


def _recorded(run: trainspec.Run) -> dict:
    arrays = run.to_arrays()
    meta = json.loads(arrays.pop("meta").tobytes().decode())
    meta.pop("wall_time")
    return {"meta": meta, **arrays}


def _assert_bitwise_equal(shared: trainspec.Run, fresh: trainspec.Run) -> None:
    a, b = _recorded(shared), _recorded(fresh)
    assert a["meta"] == b["meta"]
    assert sorted(a) == sorted(b)
    for key in a:
        if key != "meta":
            assert np.array_equal(a[key], b[key], equal_nan=True), key


def _train_shared_and_fresh(monkeypatch, recipes: list) -> tuple[int, list, list]:
    """Train ``recipes`` in turn sharing graphs, then ``recipes[1:]`` each on its own trace
    (the first recipe is traced in both). Returns the traces taken while sharing and the runs."""
    before = engine.trace_count()
    shared = [trainspec.train(r) for r in recipes]
    traces = engine.trace_count() - before
    engine.clear_memo()
    monkeypatch.setenv("TRAINSPEC_GRAPH_REUSE", "0")
    before = engine.trace_count()
    fresh = [trainspec.train(r) for r in recipes[1:]]
    assert engine.trace_count() - before == len(recipes) - 1  # reuse off: every run traces
    monkeypatch.delenv("TRAINSPEC_GRAPH_REUSE")
    return traces, shared[1:], fresh


@pytest.fixture
def base(blobs) -> trainspec.Recipe:
    return trainspec.Recipe(
        model=small_mlp(width=8), data=blobs, loss="sparse_categorical_crossentropy",
        optimizer="sgd", learning_rate=0.1, steps=40, batch_size=32, metrics=["accuracy"],
        seed=0, validation_split=0.25, name="reuse",
    )


def test_a_learning_rate_sweep_and_noisy_inputs_trace_once_and_match_fresh_traces_bit_for_bit(
    graphs, base, blobs
):
    x, y = blobs
    noisy = (x + np.random.default_rng(0).normal(0.0, 3.0, x.shape).astype(np.float32), y)
    momentum = base.replace(optimizer={"name": "sgd", "momentum": 0.9})
    recipes = [momentum.replace(learning_rate=lr) for lr in (0.3, 0.1, 0.01, 0.001)]
    recipes.append(momentum.replace(data=noisy))  # the input-noise pair: other data, same graph
    traces, shared, fresh = _train_shared_and_fresh(graphs, recipes)
    assert traces == 1
    for s, f in zip(shared, fresh, strict=True):
        _assert_bitwise_equal(s, f)
    assert shared[0].histograms is not None and shared[0].val
    assert not np.array_equal(shared[0].loss, shared[1].loss)


def _dropout_batchnorm():
    return keras.Sequential([
        keras.Input((2,)), keras.layers.Dense(8, activation="relu"),
        keras.layers.BatchNormalization(), keras.layers.Dropout(0.3),
        keras.layers.Dense(3, activation="softmax"),
    ])


def test_dropout_seeds_batchnorm_statistics_and_adam_slots_start_as_in_a_fresh_run(graphs, base):
    model = base.replace(model=_dropout_batchnorm, optimizer="adam", eval_every=20)
    # another seed: other initial weights and dropout seed state, the same graph
    recipes = [model.replace(learning_rate=0.01), model.replace(learning_rate=0.001, seed=3)]
    traces, shared, fresh = _train_shared_and_fresh(graphs, recipes)
    assert traces == 1
    _assert_bitwise_equal(shared[0], fresh[0])
    assert len(shared[0].val_history["val_loss"]) == 2


def _tape_step(model, optimizer, x, y):
    with tf.GradientTape() as tape:
        y_pred = model(x, training=True)
        loss = tf.reduce_mean(keras.losses.sparse_categorical_crossentropy(y, y_pred))
    grads = tape.gradient(loss, model.trainable_variables)
    optimizer.apply_gradients(zip(grads, model.trainable_variables, strict=True))
    return loss


def test_a_custom_train_step_reuses_the_graph(graphs, base):
    custom = base.replace(loss=None, train_step=_tape_step)
    recipes = [custom.replace(learning_rate=0.1), custom.replace(learning_rate=0.02)]
    traces, shared, fresh = _train_shared_and_fresh(graphs, recipes)
    assert traces == 1
    _assert_bitwise_equal(shared[0], fresh[0])


def _noisy_step(model, optimizer, x, y):
    # a stateful random op: its kernel keeps a position in its stream between calls
    return _tape_step(model, optimizer, x + tf.random.normal(tf.shape(x), stddev=0.1), y)


def test_a_graph_with_state_outside_the_variables_is_not_kept(graphs, base):
    trainspec.train(base.replace(loss=None, train_step=_noisy_step))
    assert not kept.GRAPHS


def test_a_changed_model_or_loss_traces_its_own_graph_and_few_graphs_are_kept(graphs, base, blobs):
    graphs.setattr(kept, "GRAPH_CACHE_SIZE", 1)
    x, y = blobs
    before = engine.trace_count()
    trainspec.train(base)
    trainspec.train(base.replace(model=small_mlp(activation="tanh", width=8)))
    trainspec.train(base.replace(loss="categorical_crossentropy",
                                 data=(x, np.eye(3, dtype=np.float32)[y])))
    assert engine.trace_count() - before == 3
    assert len(kept.GRAPHS) == 1


def _key(recipe: trainspec.Recipe) -> str | None:
    p = prepare(recipe)
    p.optimizer.build(p.model.trainable_variables)
    return kept.graph_key(p)


def test_what_the_graph_key_keeps_and_leaves_out(base, blobs):
    x, y = blobs
    same = [base, base.replace(learning_rate=0.01, seed=4, steps=7, batch_size=8),
            base.replace(data=(x * 2.0, y[::-1].copy()))]
    assert len({_key(r) for r in same}) == 1
    # clip values are constants in Keras' optimizer graph; momentum too
    clipped = [base.replace(optimizer={"name": "sgd", "clipnorm": c}) for c in (1.0, 0.5)]
    moving = base.replace(optimizer={"name": "sgd", "momentum": 0.9})
    assert len({_key(r) for r in [base, *clipped, moving]}) == 4
    # a schedule is traced into the graph; callbacks are handed the model object
    schedule = keras.optimizers.schedules.ExponentialDecay(0.1, decay_steps=10, decay_rate=0.9)
    scheduled = base.replace(optimizer=keras.optimizers.SGD(learning_rate=schedule),
                             learning_rate=None)
    stopping = base.replace(eval_every=10, callbacks=[keras.callbacks.EarlyStopping()])
    assert _key(scheduled) is None and _key(stopping) is None


def test_recipes_with_and_without_validation_share_one_loop_and_no_retracing_is_reported(
    graphs, base
):
    """The evaluation is keyed apart from the loop, and each traced function is called through
    its one concrete function: TensorFlow's frequent-retracing detector, which counts calls of
    the same Python code across recipes, has nothing to report."""
    messages: list[str] = []
    handler = logging.Handler()
    handler.emit = lambda record: messages.append(record.getMessage())  # type: ignore[method-assign]
    tf.get_logger().addHandler(handler)
    try:
        # five fresh traces of the evaluation, each called once, warned before
        short = base.replace(steps=20)
        recipes = [short.replace(learning_rate=lr) for lr in (0.3, 0.1, 0.03, 0.01, 0.003)]
        recipes.insert(2, short.replace(validation_split=0.0, learning_rate=0.2))
        recipes.append(short.replace(validation_split=0.5, learning_rate=0.05))
        traces, shared, fresh = _train_shared_and_fresh(graphs, recipes)
    finally:
        tf.get_logger().removeHandler(handler)
    assert traces == 1
    for s, f in zip(shared, fresh, strict=True):
        _assert_bitwise_equal(s, f)
    assert shared[0].val and not shared[1].val and shared[-1].val
    assert not [m for m in messages if "retracing" in m]
