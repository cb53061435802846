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


def test_weights_are_the_trained_models_and_trained_once(fresh, base):
    executed = []
    real = memo.execute
    fresh.setattr(memo, "execute", lambda p, **kw: executed.append(p) or real(p, **kw))
    weights = trainspec.trained_weights(base)
    initial = build_model(base).get_weights()  # the builder's seeded initial weights
    assert [w.shape for w in weights] == [w.shape for w in initial]
    assert not all(np.array_equal(a, b) for a, b in zip(weights, initial, strict=True))
    again = trainspec.trained_weights(base)
    assert all(np.array_equal(a, b) for a, b in zip(weights, again, strict=True))
    run = trainspec.train(base)  # the same run, from the memo, reported with its weights
    assert len(executed) == 1 and run.final_weights is not None


def test_a_run_without_weights_is_trained_again_keeping_them(fresh, base):
    assert trainspec.train(base).final_weights is None  # plain runs keep no weights
    weights = trainspec.trained_weights(base)
    kept = trainspec.train(base).final_weights  # the memo now holds the run with its weights
    assert kept is not None
    assert all(np.array_equal(a, b) for a, b in zip(weights, kept, strict=True))


def test_a_recipe_on_the_base_follows_the_base(fresh, base):
    first = engine.fingerprint(_on(base))
    assert engine.fingerprint(_on(base)) == first
    assert engine.fingerprint(_on(base.replace(steps=21))) != first  # never a stale cache


def test_the_weights_come_from_the_disk_cache_in_a_new_session(fresh, base, tmp_path):
    fresh.setattr(memo, "STORES", events.STORES)
    store = RunCache(tmp_path / "cache").install()
    try:
        weights = trainspec.trained_weights(base)
        assert store.stats.written == 1 and store.entries()
        engine.clear_memo()  # a new session: only the disk cache remembers
        fresh.setattr(memo, "execute", lambda *a, **k: pytest.fail("trained again"))
        cached = trainspec.trained_weights(base)
        assert all(np.array_equal(a, b) for a, b in zip(weights, cached, strict=True))
    finally:
        store.uninstall()


def test_trained_weights_takes_a_recipe():
    with pytest.raises(TypeError, match="takes a trainspec.Recipe"):
        trainspec.trained_weights("base")
