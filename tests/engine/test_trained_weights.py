"""trainspec.trained_weights: a base recipe trained once (memo, then the disk cache), its final
weights loaded by other recipes, whose fingerprints follow the base."""

from __future__ import annotations

import numpy as np
import pytest

import trainspec
from tests.conftest import small_mlp
from trainspec import engine, events
from trainspec.cache import RunCache
from trainspec.engine import memo
from trainspec.engine.prepare import build_model


@pytest.fixture
def fresh(monkeypatch):
    monkeypatch.setattr(memo, "STORES", [])
    engine.clear_memo()
    yield monkeypatch
    engine.clear_memo()


@pytest.fixture
def base(healthy):
    return healthy.replace(steps=20, name="base")


def _on(base: trainspec.Recipe) -> trainspec.Recipe:
    """A recipe whose model starts from ``base``'s final weights."""

    def build():
        model = small_mlp()()
        model.set_weights(trainspec.trained_weights(base))
        return model

    return base.replace(model=build, steps=5, name="on-base")


def _count_training(monkeypatch) -> list:
    executed: list = []
    real = memo.execute
    monkeypatch.setattr(memo, "execute", lambda p: executed.append(p) or real(p))
    return executed


def _same(a, b) -> bool:
    return all(np.array_equal(x, y) for x, y in zip(a, b, strict=True))


def test_weights_are_the_trained_models_and_trained_once(fresh, base):
    executed = _count_training(fresh)
    weights = trainspec.trained_weights(base)
    initial = build_model(base).get_weights()  # the builder's seeded initial weights
    assert [w.shape for w in weights] == [w.shape for w in initial]
    assert not _same(weights, initial)
    assert _same(trainspec.trained_weights(base), weights)
    run = trainspec.train(base)  # the same run, from the memo
    assert len(executed) == 1 and _same(run.final_weights, weights)


def test_the_disk_cache_stores_weights_only_for_a_base(fresh, base, tmp_path):
    fresh.setattr(memo, "STORES", events.STORES)
    store = RunCache(tmp_path / "cache").install()
    try:
        executed = _count_training(fresh)
        run = trainspec.train(base)
        assert run.final_weights is not None  # in memory
        assert store.get(run.fingerprint).final_weights is None  # not on disk: no base yet
        weights = trainspec.trained_weights(base)  # the memo's run, now stored with them
        assert len(executed) == 1 and _same(weights, run.final_weights)
        assert _same(store.get(run.fingerprint).final_weights, weights)
        engine.clear_memo()  # a new session: only the disk cache remembers
        assert _same(trainspec.trained_weights(base), weights) and len(executed) == 1
    finally:
        store.uninstall()


def test_a_recipe_on_the_base_follows_the_base(fresh, base):
    first = engine.fingerprint(_on(base))
    assert engine.fingerprint(_on(base)) == first
    assert engine.fingerprint(_on(base.replace(steps=21))) != first  # never a stale cache


def test_a_stored_run_without_weights_is_trained_again(fresh, base, tmp_path):
    fresh.setattr(memo, "STORES", events.STORES)
    store = RunCache(tmp_path / "cache").install()
    try:
        fingerprint = trainspec.train(base).fingerprint  # stored without its weights
        engine.clear_memo()
        executed = _count_training(fresh)
        weights = trainspec.trained_weights(base)
        assert len(executed) == 1  # the weights were nowhere: trained again, deterministically
        assert _same(store.get(fingerprint).final_weights, weights)
    finally:
        store.uninstall()


def test_trained_weights_takes_a_recipe():
    with pytest.raises(TypeError, match="takes a trainspec.Recipe"):
        trainspec.trained_weights("base")
