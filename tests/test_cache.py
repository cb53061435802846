"""The on-disk run cache: entries, keys, bad entries, modes, folders and the report."""

from __future__ import annotations

import dataclasses
import json
import textwrap
import warnings

import keras
import numpy as np
import pytest

import trainspec
from tests.conftest import TINY_SPECS
from trainspec import events
from trainspec.cache import HEADER_KEY, CacheWarning, RunCache, versions
from trainspec.engine import clear_memo, fingerprint


@pytest.fixture
def cache(tmp_path):
    store = RunCache(tmp_path / "cache").install()
    yield store
    store.uninstall()


def same_arrays(a: trainspec.Run, b: trainspec.Run) -> bool:
    left, right = a.to_arrays(), b.to_arrays()
    return left.keys() == right.keys() and all(
        left[k].dtype == right[k].dtype and left[k].tobytes() == right[k].tobytes() for k in left
    )


def test_a_cached_run_is_bitwise_the_trained_run(cache, healthy_run):
    path = cache.write(healthy_run.fingerprint, healthy_run)
    assert path is not None and path.parent == cache.directory
    loaded = cache.get(healthy_run.fingerprint)
    assert loaded.from_cache and not healthy_run.from_cache
    assert same_arrays(loaded, healthy_run)
    assert loaded.summary() == healthy_run.summary()
    assert [f.to_json() for f in trainspec.diagnose(loaded).findings] == [
        f.to_json() for f in trainspec.diagnose(healthy_run).findings
    ]
    assert cache.stats.hits == 1 and cache.stats.written == 1


def test_the_engine_reads_and_writes_through_the_cache(cache, healthy):
    clear_memo()
    trained = trainspec.train(healthy)
    assert not trained.from_cache and len(cache.entries()) == 1
    clear_memo()
    again = trainspec.train(healthy)
    # the entry holds everything recorded; the final weights stay in memory (trained_weights
    # stores them for a base)
    assert again.from_cache and again.final_weights is None and trained.final_weights
    assert same_arrays(again, dataclasses.replace(trained, final_weights=None))


def test_a_change_to_the_recipe_misses(cache, healthy, healthy_run):
    cache.write(healthy_run.fingerprint, healthy_run)
    x, y = healthy.data
    for changed in (healthy.replace(learning_rate=0.05), healthy.replace(data=(x * 1.01, y)),
                    healthy.replace(seed=1), healthy.replace(steps=121)):
        fp = fingerprint(changed)
        assert fp != healthy_run.fingerprint
        assert cache.get(fp) is None
    assert cache.get(fingerprint(healthy)) is not None  # unchanged recipe: a hit


def test_the_key_depends_on_the_versions(tmp_path, monkeypatch):
    store = RunCache(tmp_path)
    key = store.key("f" * 32)
    other = RunCache(tmp_path)
    other._versions = {**versions(), "tensorflow": "0.0.1"}
    assert other.key("f" * 32) != key
    assert {"tensorflow", "keras", "trainspec", "numpy"} <= set(versions())


def rewrite_header(path, **changes):
    with np.load(path, allow_pickle=False) as data:
        arrays = {name: data[name] for name in data.files}
    header = json.loads(bytes(arrays[HEADER_KEY]).decode())
    for key, value in changes.items():
        if key == "name":
            header["format"] = value
        else:
            header["versions"][key] = value
    arrays[HEADER_KEY] = np.frombuffer(json.dumps(header).encode(), dtype=np.uint8)
    with open(path, "wb") as handle:
        np.savez(handle, **arrays)


@pytest.mark.parametrize(
    ("damage", "reason"),
    [
        (lambda p: rewrite_header(p, tensorflow="1.0.0"), "tensorflow 1.0.0"),
        (lambda p: rewrite_header(p, name="something-else"), "not a trainspec run cache entry"),
        (lambda p: p.write_bytes(p.read_bytes()[: len(p.read_bytes()) // 2]), ""),
        (lambda p: p.write_bytes(b"garbage" * 100), ""),
        (lambda p: p.write_bytes(b""), ""),
    ],
    ids=["foreign-tensorflow", "foreign-format", "truncated", "garbage", "empty"],
)
def test_a_bad_entry_is_discarded_never_crashes(cache, healthy_run, damage, reason):
    path = cache.write(healthy_run.fingerprint, healthy_run)
    damage(path)
    assert cache.get(healthy_run.fingerprint) is None
    assert not path.exists()
    assert len(cache.stats.discarded) == 1 and reason in cache.stats.discarded[0]
    cache.write(healthy_run.fingerprint, healthy_run)  # rebuilt
    assert same_arrays(cache.get(healthy_run.fingerprint), healthy_run)


def test_modes(tmp_path, healthy_run):
    for mode, reads, writes in (("on", True, True), ("read", True, False),
                                ("write", False, True), ("off", False, False)):
        store = RunCache(tmp_path / mode, mode).install()
        try:
            RunCache(tmp_path / mode).write(healthy_run.fingerprint, healthy_run)
            assert (store.get(healthy_run.fingerprint) is not None) is reads, mode
            store.clear()
            store.put(healthy_run.fingerprint, healthy_run)
            for listener in list(events.LISTENERS):
                if listener == store._on_run:
                    listener(object(), healthy_run)
            assert bool(store.entries()) is writes, mode
        finally:
            store.uninstall()


def test_only_the_innermost_cache_acts(tmp_path, healthy_run):
    outer = RunCache(tmp_path / "outer").install()
    inner = RunCache(tmp_path / "inner").install()
    try:
        inner.write(healthy_run.fingerprint, healthy_run)
        outer.write(healthy_run.fingerprint, healthy_run)
        assert outer.get(healthy_run.fingerprint) is None
        assert inner.get(healthy_run.fingerprint) is not None
    finally:
        inner.uninstall()
        outer.uninstall()


def test_runs_with_callbacks_are_not_written(cache, healthy):
    clear_memo()
    recipe = healthy.replace(validation_split=0.25, eval_every=40,
                             callbacks=[keras.callbacks.EarlyStopping(patience=1)])
    run = trainspec.train(recipe)
    assert not run.from_cache and cache.entries() == [] and cache.stats.not_cached == 1


def test_an_unwritable_folder_is_a_warning(tmp_path, healthy_run):
    (tmp_path / "file").write_text("not a folder")
    store = RunCache(tmp_path / "file" / "cache")
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        assert store.write(healthy_run.fingerprint, healthy_run) is None
        assert store.write(healthy_run.fingerprint, healthy_run) is None
    assert [w.category for w in caught] == [CacheWarning]  # once
    assert "cannot create the run cache folder" in str(caught[0].message)
    assert store.get(healthy_run.fingerprint) is None


def test_clear_removes_only_entries(tmp_path, healthy_run):
    store = RunCache(tmp_path)
    store.write(healthy_run.fingerprint, healthy_run)
    (tmp_path / "mine.txt").write_text("keep")
    assert store.clear() == 1 and store.entries() == [] and (tmp_path / "mine.txt").exists()


# -- the plugin --------------------------------------------------------------------------------

SPECS = TINY_SPECS + textwrap.dedent(
    """

    PAIR = trainspec.Pair("tiny_lr", broken=recipe(learning_rate=1e-5), fixed=recipe(),
                          cause="learning rate 1e-5", fix="0.1")

    @trainspec.applies_to(PAIR)
    def test_loss_falls(run):
        assert run.loss.relative_decrease() >= 0.3

    @trainspec.applies_to(PAIR)
    def test_accuracy(run):
        trainspec.expect(run).accuracy_above_chance(margin=0.2)
    """
)

TIMING = ("duration", "wall_time", "from_cache")


def comparable(document: dict) -> dict:
    """The results without timing and cache provenance."""
    results = []
    for entry in document["results"]:
        entry = {k: v for k, v in entry.items() if k not in TIMING}
        entry["runs"] = [{k: v for k, v in r.items() if k not in TIMING} for r in entry["runs"]]
        results.append(entry)
    return {"results": results, "verdicts": document["verdicts"], "exitstatus": document["exitstatus"]}


def session(pytester, *args):
    clear_memo()  # pytester sessions share this process: forget runs, so the cache is asked
    result = pytester.runpytest("-p", "no:cacheprovider", "--trainspec-json", "out.json", *args)
    return result, json.loads((pytester.path / "out.json").read_text())


def test_a_second_session_trains_nothing_and_gives_the_same_results(pytester):
    pytester.makepyfile(test_specs=SPECS)
    cold, first = session(pytester)
    assert cold.ret == 0
    assert first["runs"] == {"total": 2, "trained": 2, "from_cache": 0}
    assert first["cache"]["mode"] == "on" and first["cache"]["written"] == 2
    folder = pytester.path / ".trainspec_cache"
    assert len(list(folder.glob("*.npz"))) == 2 and (folder / ".gitignore").exists()
    cold.stdout.fnmatch_lines(["*2 runs: 2 trained, 0 from the cache*"])

    warm, second = session(pytester, "--trainspec-report=full")  # full: caught panels too
    assert warm.ret == 0
    assert second["runs"] == {"total": 2, "trained": 0, "from_cache": 2}
    assert all(r["from_cache"] for r in second["results"])
    assert comparable(second) == comparable(first)  # verdicts, messages, curves, summaries
    warm.stdout.fnmatch_lines(["*2 runs: 0 trained, 2 from the cache*"])
    assert "run from the cache" in warm.stdout.str()  # the caught panel says so


def test_corrupt_entries_are_rebuilt_with_a_clean_result(pytester):
    pytester.makepyfile(test_specs=SPECS)
    _, first = session(pytester)
    for path in (pytester.path / ".trainspec_cache").glob("*.npz"):
        path.write_bytes(path.read_bytes()[:100])
    result, again = session(pytester)
    assert result.ret == 0
    assert again["runs"]["trained"] == 2 and len(again["cache"]["discarded"]) == 2
    assert comparable(again) == comparable(first)
    _, third = session(pytester)
    assert third["runs"]["from_cache"] == 2


def test_off_writes_nothing_and_write_retrains(pytester):
    pytester.makepyfile(test_specs=SPECS)
    _, off = session(pytester, "--trainspec-cache=off")
    assert not (pytester.path / ".trainspec_cache").exists() and off["runs"]["trained"] == 2
    session(pytester)
    _, write = session(pytester, "--trainspec-cache=write")
    assert write["runs"] == {"total": 2, "trained": 2, "from_cache": 0}
    assert write["cache"]["written"] == 2
    _, read = session(pytester, "--trainspec-cache=read")
    assert read["runs"]["from_cache"] == 2


def test_the_folder_from_the_environment_the_ini_and_clear(pytester, monkeypatch, tmp_path):
    pytester.makepyfile(test_specs=SPECS)
    elsewhere = tmp_path / "env-cache"
    monkeypatch.setenv("TRAINSPEC_CACHE_DIR", str(elsewhere))
    result, _ = session(pytester)
    result.stdout.fnmatch_lines([f"trainspec run cache: on ({elsewhere})"])  # the header
    assert len(list(elsewhere.glob("*.npz"))) == 2
    assert not (pytester.path / ".trainspec_cache").exists()
    _, cleared = session(pytester, "--trainspec-clear-cache")
    assert cleared["runs"]["trained"] == 2  # emptied before the session, then written again
    monkeypatch.delenv("TRAINSPEC_CACHE_DIR")
    pytester.makeini("[pytest]\ntrainspec_cache_dir = from_ini\n")
    session(pytester)
    assert len(list((pytester.path / "from_ini").glob("*.npz"))) == 2
    pytester.makeini("[pytest]\ntrainspec_cache = off\n")
    _, off = session(pytester)
    assert off["cache"]["mode"] == "off"


def test_an_unwritable_cache_folder_does_not_fail_the_session(pytester):
    pytester.makepyfile(test_specs=SPECS)
    (pytester.path / "blocked").write_text("a file, not a folder")
    result, doc = session(pytester, "--trainspec-cache-dir", "blocked/cache")
    assert result.ret == 0
    assert "cannot create the run cache folder" in doc["cache"]["errors"][0]
    result.stdout.fnmatch_lines(["*CacheWarning*cannot create the run cache folder*"])


def test_a_bad_mode_is_a_usage_error(pytester):
    pytester.makeini("[pytest]\ntrainspec_cache = sometimes\n")
    result = pytester.runpytest("-p", "no:cacheprovider")
    assert result.ret == 4
    result.stderr.fnmatch_lines(["*trainspec_cache must be one of on, off, read, write*"])


def test_fingerprints_agree_across_processes(tmp_path):
    # the cache is shared between processes, whose string hashing differs (PYTHONHASHSEED)
    import os
    import subprocess
    import sys

    code = textwrap.dedent(
        """
        import keras, trainspec
        from trainspec import datasets
        from trainspec.engine import fingerprint

        def build():
            return keras.Sequential([keras.Input((2,))] + [keras.layers.Dense(8, activation="relu")
                                     for _ in range(6)] + [keras.layers.Dense(3, activation="softmax")])

        print(fingerprint(trainspec.Recipe(model=build, data=datasets.blobs(n=64, classes=3),
                                           loss="sparse_categorical_crossentropy", optimizer="sgd",
                                           steps=5, batch_size=8)))
        """
    )
    prints = set()
    for seed in ("1", "2"):
        env = {**os.environ, "PYTHONHASHSEED": seed, "TF_CPP_MIN_LOG_LEVEL": "3"}
        out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True,
                             timeout=300, check=True)
        prints.add(out.stdout.strip().splitlines()[-1])
    assert len(prints) == 1


def test_a_shared_run_carries_the_label_of_the_recipe_that_asks(cache, healthy, healthy_run):
    # the name is not in the fingerprint: the run must not depend on who trained it first
    clear_memo()
    cache.write(healthy_run.fingerprint, healthy_run)
    renamed = healthy.replace(name="the_same_recipe")
    loaded = trainspec.train(renamed)
    assert loaded.from_cache and loaded.label == "the_same_recipe"
    assert trainspec.train(healthy).label == healthy_run.label == "healthy"  # from the memo
    assert same_arrays(loaded.__class__(**{**loaded.__dict__, "label": "healthy"}), healthy_run)


def test_every_engine_stage_module_is_in_the_source_hash():
    # An edit to any stage of the engine (the loop, the step, the probes...) must miss the cache,
    # not only an edit to the package's __init__.
    from trainspec.cache import _source_files

    names = {p.name for p in _source_files("engine")}
    assert {"loop.py", "step.py", "probes.py", "fingerprint.py", "assemble.py"} <= names
