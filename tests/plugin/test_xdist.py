"""pytest-xdist: ``-n 2`` gives the verdicts, report and JSON of one process; specs sharing a
run land on one worker (``--dist loadgroup`` by default); session data comes from the workers."""

from __future__ import annotations

import json
import textwrap

import pytest

from tests.conftest import TINY_SPECS

pytest.importorskip("xdist")

SPECS = TINY_SPECS + textwrap.dedent(
    """
    import os
    from pathlib import Path

    SLOW = trainspec.Pair("tiny_lr", broken=recipe(learning_rate=1e-5), fixed=recipe(),
                          cause="learning rate 1e-5", fix="0.1")
    WILD = trainspec.Pair("huge_lr", broken=recipe(learning_rate=30.0), fixed=recipe(seed=1),
                          cause="learning rate 30", fix="0.1")

    def where(run):
        folder = Path(os.environ["WORKERS_DIR"])
        worker = os.environ.get("PYTEST_XDIST_WORKER", "main")
        (folder / f"{run.label}-{run.seed}-{run.fingerprint}-{worker}").touch()

    @trainspec.applies_to(SLOW, WILD)
    def test_loss_falls(run):
        where(run)
        assert run.loss.relative_decrease() >= 0.3

    @trainspec.applies_to(SLOW, WILD)
    def test_accuracy(run):
        where(run)
        trainspec.expect(run).accuracy_above_chance(margin=0.2)

    @trainspec.applies_to(SLOW)
    def test_misses(run):
        assert run.finite
    """
)

VOLATILE = ("duration", "wall_time")


def comparable(document: dict) -> dict:
    results = []
    for entry in document["results"]:
        entry = {k: v for k, v in entry.items() if k not in VOLATILE}
        entry["runs"] = [{k: v for k, v in r.items() if k not in VOLATILE} for r in entry["runs"]]
        results.append(entry)
    return {"results": results, "verdicts": document["verdicts"], "runs": document["runs"],
            "exitstatus": document["exitstatus"], "collection_errors": document["collection_errors"]}


def report_of(output: str) -> str:
    lines = output.splitlines()
    start = next(i for i, line in enumerate(lines) if "trainspec report" in line)
    end = next(i for i, line in enumerate(lines) if "runs:" in line and "trained" in line)
    return "\n".join(lines[start:end + 1])


#: A module whose recipe is invalid at import: a collection error, the other modules still run.
INVALID = TINY_SPECS + textwrap.dedent(
    """
    @trainspec.applies_to(recipe(steps=0))
    def test_anything(run):
        pass
    """
)


def test_two_workers_give_the_single_process_verdicts_report_and_json(pytester, monkeypatch):
    pytester.makepyfile(test_specs=SPECS, test_invalid=INVALID)
    workers = pytester.path / "workers"
    workers.mkdir()
    monkeypatch.setenv("WORKERS_DIR", str(workers))
    common = ("-p", "no:cacheprovider", "--trainspec-cache=off", "--trainspec-progress=off")
    single = pytester.runpytest_subprocess(*common, "-n", "0", "--trainspec-json", "single.json")
    parallel = pytester.runpytest_subprocess(*common, "-n", "2", "--trainspec-json", "multi.json")
    assert single.ret == parallel.ret == 1  # test_misses misses: one failed strict xfail
    one = json.loads((pytester.path / "single.json").read_text())
    two = json.loads((pytester.path / "multi.json").read_text())
    assert comparable(two) == comparable(one)
    assert all("@" not in r["nodeid"] for r in two["results"])
    assert two["runs"] == {"total": 4, "trained": 4, "from_cache": 0}
    # a module invalid at import is one collection error under -n 2 too: the others' specs ran
    assert [e["nodeid"] for e in two["collection_errors"]] == ["test_invalid.py"]
    assert "field 'steps'" in two["collection_errors"][0]["message"]
    parallel.stdout.fnmatch_lines(["*1 collection error*"])
    # the report is rendered once, by the controller, and reads the same
    assert parallel.stdout.str().count("trainspec report") == 1
    assert report_of(parallel.stdout.str()) == report_of(single.stdout.str())
    # loadgroup by default: the specs of one run ran on one worker, so each run trained once
    seen: dict[str, set[str]] = {}
    for marker in workers.iterdir():
        run, worker = marker.name.rsplit("-", 1)
        if worker != "main":
            seen.setdefault(run, set()).add(worker)
    assert len(seen) == 4 and all(len(w) == 1 for w in seen.values()), seen


def test_workers_share_the_disk_cache_and_report_it(pytester, monkeypatch):
    pytester.makepyfile(test_specs=SPECS)
    monkeypatch.setenv("WORKERS_DIR", str(pytester.path))
    args = ("-p", "no:cacheprovider", "--trainspec-progress=off", "-n", "2")
    cold = pytester.runpytest_subprocess(*args, "--trainspec-json", "cold.json")
    warm = pytester.runpytest_subprocess(*args, "--trainspec-json", "warm.json")
    first = json.loads((pytester.path / "cold.json").read_text())
    second = json.loads((pytester.path / "warm.json").read_text())
    assert first["runs"] == {"total": 4, "trained": 4, "from_cache": 0}
    assert first["cache"]["written"] == 4  # each run trained (and written) by one worker
    assert second["runs"] == {"total": 4, "trained": 0, "from_cache": 4}
    assert second["cache"]["hits"] >= 4
    warm.stdout.fnmatch_lines(["*4 runs: 0 trained, 4 from the cache*"])
    assert cold.ret == warm.ret == 1
    assert [v["verdict"] for v in second["verdicts"]] == [v["verdict"] for v in first["verdicts"]]


def test_an_explicit_dist_mode_is_kept(pytester):
    pytester.makeconftest(
        """
        def pytest_configure(config):
            config._dist_seen = config.option.dist

        def pytest_sessionstart(session):
            print("DIST=" + session.config.option.dist)
        """
    )
    pytester.makepyfile(test_one="def test_x():\n    pass\n")
    default = pytester.runpytest_subprocess("-p", "no:cacheprovider", "-n", "1", "-s")
    default.stdout.fnmatch_lines(["*DIST=loadgroup*"])
    chosen = pytester.runpytest_subprocess("-p", "no:cacheprovider", "-n", "1", "--dist", "load", "-s")
    chosen.stdout.fnmatch_lines(["*DIST=load"])
