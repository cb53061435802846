"""The shipped workspace end to end, as a student meets it: ``trainspec exercises init DIR
--with-solutions``, then ``pytest`` inside DIR (a subprocess, as a student runs it) red, with one
solution copied over, and with all of them.  The three runs share one run cache, so every model
trains once: the broken ones in the red run and the fixed ones in the all-solutions run, which
run at the same time in two copies of the workspace (one core each), then the one-solution run
from the cache.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from trainspec.cli import main
from trainspec.exercises import catalog

ONE = "fail4_input_noise"


def start_pytest(directory: Path, cache: Path) -> subprocess.Popen:
    env = {**os.environ, "TRAINSPEC_CACHE_DIR": str(cache), "COLUMNS": "80",
           "PYTEST_ADDOPTS": ""}
    return subprocess.Popen([sys.executable, "-m", "pytest"], cwd=directory, env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)


def finish(process: subprocess.Popen, directory: Path) -> tuple[int, str, dict]:
    out, _ = process.communicate(timeout=1800)
    document = json.loads((directory / "results.json").read_text())
    return process.returncode, out, document


def pytest_in(directory: Path, cache: Path) -> tuple[int, str, dict]:
    return finish(start_pytest(directory, cache), directory)


@pytest.fixture(scope="module")
def course(tmp_path_factory):
    root = tmp_path_factory.mktemp("course")
    cache = root / "cache"
    directory = root / "class"
    solved = root / "solved"
    assert main(["exercises", "init", str(directory), "--with-solutions"]) == 0
    assert main(["exercises", "init", str(solved), "--with-solutions"]) == 0
    for solution in (solved / "solutions").glob("*.py"):
        shutil.copy(solution, solved / solution.name)
    # Two sessions at once sharing one cache folder (safe: tests/plugin/test_faults.py).
    red, full = start_pytest(directory, cache), start_pytest(solved, cache)
    runs = {"red": finish(red, directory), "all": finish(full, solved)}
    shutil.copy(directory / "solutions" / f"{ONE}.py", directory / f"{ONE}.py")
    runs["one"] = pytest_in(directory, cache)
    return directory, runs


def by_exercise(document: dict) -> dict[str, set[str]]:
    out: dict[str, set[str]] = {}
    for test in document["tests"]:
        out.setdefault(test["name"].split(" › ")[0], set()).add(test["status"])
    return out


def test_init_writes_a_workspace(course):
    directory, _ = course
    names = [e.name for e in catalog()]
    for i, name in enumerate(names, start=1):
        assert (directory / f"{name}.py").is_file()
        assert (directory / "specs" / f"test_{i:02d}_{name}.py").is_file()
        assert (directory / "solutions" / f"{name}.py").is_file()
    ini = (directory / "pytest.ini").read_text()
    assert "trainspec_student = true" in ini and "pythonpath = ." in ini
    readme = (directory / "README.md").read_text()
    assert "## Your loop" in readme and all(f"`{n}.py`" in readme for n in names)


def test_every_exercise_starts_red_with_a_hint(course):
    _, runs = course
    status, out, document = runs["red"]
    assert status == 1
    assert f"0 of {len(catalog())} exercises green" in out
    assert all(f"✘ {e.name}" in out for e in catalog())
    assert "Exercise 1 · fail1_learning_rate" in out and "Hint 1 of 3" in out
    assert document["score"] == 0
    assert set(by_exercise(document)) == {e.name for e in catalog()}
    assert all(statuses == {"failed"} for statuses in by_exercise(document).values())
    # each failed test's output carries its exercise's hint, never its solution
    assert all("Hint:" in t["output"] for t in document["tests"])


def test_one_solution_turns_exactly_its_exercise_green(course):
    _, runs = course
    status, out, document = runs["one"]
    assert status == 1
    assert f"1 of {len(catalog())} exercises green" in out
    statuses = by_exercise(document)
    assert statuses.pop(ONE) == {"passed"}
    assert all(s == {"failed"} for s in statuses.values())
    earned = sum(t["max_score"] for t in document["tests"] if t["name"].startswith(ONE))
    assert document["score"] == earned > runs["red"][2]["score"]


def test_all_solutions_give_full_marks(course):
    _, runs = course
    status, out, document = runs["all"]
    assert status == 0
    assert f"{len(catalog())} of {len(catalog())} exercises green" in out
    assert document["score"] == sum(t["max_score"] for t in document["tests"]) > 0
    assert {t["status"] for t in document["tests"]} == {"passed"}
