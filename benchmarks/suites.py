"""Measurements in fresh processes: ``model.fit`` vs ``trainspec.train`` (figure 2) and pytest
sessions (figures 3, 4 and 5a), each timed from the outside with its own peak RSS
(the process and the workers it waited for, read by a small launcher)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
import textwrap
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent


@dataclass
class Process:
    """A finished child process."""

    seconds: float
    max_rss_mb: float
    returncode: int
    stdout: str
    stderr: str


def _env(cache_dir: Path | None) -> dict[str, str]:
    env = dict(os.environ)
    env["TF_CPP_MIN_LOG_LEVEL"] = "3"
    env["PYTHONPATH"] = os.pathsep.join([str(ROOT), *filter(None, [env.get("PYTHONPATH")])])
    env.pop("PYTEST_ADDOPTS", None)
    env.pop("PYTEST_XDIST_WORKER", None)
    if cache_dir is not None:
        env["TRAINSPEC_CACHE_DIR"] = str(cache_dir)
    return env


#: Runs a command and writes the peak RSS of it and the descendants it waited for.  Measured
#: through this small launcher, not from the benchmark process: a child forked from a process
#: holding TensorFlow (~700 MB) inherits that high-water mark in its own ru_maxrss.
_LAUNCHER = (
    "import resource, subprocess, sys; rc = subprocess.call(sys.argv[2:]); "
    "open(sys.argv[1], 'w').write(str(resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss)); "
    "sys.exit(rc)"
)


def run_process(args: list[str], cwd: Path, cache_dir: Path | None) -> Process:
    """Run ``args``; its wall time from here, its peak RSS from the launcher."""
    with tempfile.TemporaryDirectory(prefix="trainspec-bench-proc-") as tmp:
        rss_file = Path(tmp) / "maxrss"
        out, err = Path(tmp) / "stdout", Path(tmp) / "stderr"
        with out.open("w") as stdout, err.open("w") as stderr:
            started = time.perf_counter()
            returncode = subprocess.call([sys.executable, "-c", _LAUNCHER, str(rss_file), *args],
                                         cwd=cwd, env=_env(cache_dir), stdout=stdout,
                                         stderr=stderr, stdin=subprocess.DEVNULL)
            seconds = time.perf_counter() - started
        # ru_maxrss is in kilobytes on Linux, bytes on macOS
        scale = 1 / 2**20 if sys.platform == "darwin" else 1 / 1024
        rss = int(rss_file.read_text()) * scale if rss_file.exists() else float("nan")
        return Process(seconds, rss, returncode, out.read_text(), err.read_text())


# -- figure 2 ----------------------------------------------------------------------------------


@dataclass
class ChildTiming:
    mode: str
    total: float  # the process, from the outside: interpreter start, imports, training
    imports: float  # TensorFlow, Keras (and trainspec) imports, measured inside
    work: float  # data, model, tracing, every step, measured inside
    max_rss_mb: float
    info: dict[str, Any] = field(default_factory=dict)


def child(mode: str, steps: int) -> ChildTiming:
    """``benchmarks/child.py`` in a fresh process with an empty cache directory."""
    with tempfile.TemporaryDirectory(prefix="trainspec-bench-cache-") as cache:
        proc = run_process([sys.executable, "-m", "benchmarks.child", mode, str(steps)], ROOT,
                           Path(cache))
    if proc.returncode != 0:
        raise RuntimeError(f"benchmarks.child {mode} failed:\n{proc.stderr[-3000:]}")
    info = json.loads(proc.stdout.strip().splitlines()[-1])
    return ChildTiming(mode, proc.seconds, info.pop("import"), info.pop("work"), proc.max_rss_mb,
                       info)


def fit_vs_train(steps: int, repeats: int) -> dict[str, ChildTiming]:
    """The best of ``repeats`` fresh processes for each mode (alternating), plus the import
    floor."""
    best: dict[str, ChildTiming] = {}
    for _ in range(repeats):
        for mode in ("fit", "train", "import"):
            timing = child(mode, steps)
            if mode not in best or timing.total < best[mode].total:
                best[mode] = timing
    return best


# -- pytest sessions ---------------------------------------------------------------------------


@dataclass
class Session:
    """A ``pytest`` session in a fresh process."""

    label: str
    seconds: float
    max_rss_mb: float
    returncode: int
    items: int
    distinct_runs: int
    runs_from_cache: int
    tail: str

    @property
    def ok(self) -> bool:
        return self.returncode == 0


def pytest_session(label: str, paths: list[str], cwd: Path, cache_dir: Path,
                   extra: list[str] | None = None) -> Session:
    """``python -m pytest PATHS -q`` with ``TRAINSPEC_CACHE_DIR=cache_dir`` and a JSON report."""
    with tempfile.TemporaryDirectory(prefix="trainspec-bench-json-") as tmp:
        json_path = Path(tmp) / "results.json"
        args = [sys.executable, "-m", "pytest", *paths, "-q", "-p", "no:cacheprovider",
                "--trainspec-progress=off", f"--trainspec-json={json_path}", *(extra or [])]
        proc = run_process(args, cwd, cache_dir)
        data = json.loads(json_path.read_text()) if json_path.exists() else {"results": []}
    runs: dict[str, bool] = {}
    for result in data.get("results", []):
        for run in result.get("runs") or []:
            runs[run["fingerprint"]] = runs.get(run["fingerprint"], False) or bool(run["from_cache"])
    lines = (proc.stdout + proc.stderr).strip().splitlines()
    return Session(
        label=label,
        seconds=proc.seconds,
        max_rss_mb=proc.max_rss_mb,
        returncode=proc.returncode,
        items=len(data.get("results", [])),
        distinct_runs=len(runs),
        runs_from_cache=sum(runs.values()),
        tail="\n".join(lines[-15:]),
    )


def pytest_help() -> str:
    proc = run_process([sys.executable, "-m", "pytest", "--help"], ROOT, None)
    return proc.stdout


def cache_available(help_text: str | None = None) -> bool:
    """Whether the installed plugin has the disk cache (``--trainspec-cache``)."""
    return "--trainspec-cache" in (help_text if help_text is not None else pytest_help())


def xdist_available() -> bool:
    try:
        import xdist  # noqa: F401
    except ImportError:
        return False
    return True


# -- figure 4: a synthetic suite ---------------------------------------------------------------

_SUITE = '''\
"""Generated by benchmarks/suites.py: {specs} specs applied to {runs} recipes."""

import trainspec
from trainspec import datasets

DATA = datasets.blobs(n=512, classes=3, seed=0)


def mlp(width):
    def build():
        import keras

        return keras.Sequential([keras.Input((2,)), keras.layers.Dense(width, activation="relu"),
                                 keras.layers.Dense(width, activation="relu"),
                                 keras.layers.Dense(3, activation="softmax")])

    build.__qualname__ = build.__name__ = f"mlp_{{width}}"
    return build


RECIPES = [
    trainspec.Recipe(model=mlp(16), data=DATA, loss="sparse_categorical_crossentropy",
                     optimizer="sgd", learning_rate=0.1, steps={steps}, batch_size=32,
                     metrics=["accuracy"], seed=seed, name=f"synthetic_{{seed}}")
    for seed in range({runs})
]
'''

_SPEC = '''

@trainspec.applies_to(RECIPES)
def test_spec_{i}(run):
    assert run.steps_recorded == {steps}
    assert run.loss.relative_decrease() > -1.0 - {i}
'''


def write_suite(directory: Path, runs: int, specs: int, steps: int) -> Path:
    """A spec module applying ``specs`` specs to ``runs`` distinct small recipes."""
    directory.mkdir(parents=True, exist_ok=True)
    text = _SUITE.format(runs=runs, specs=specs, steps=steps)
    text += "".join(textwrap.dedent(_SPEC).format(i=i, steps=steps) for i in range(specs))
    path = directory / f"test_synthetic_{runs}runs_{specs}specs.py"
    path.write_text(text)
    return path


def synthetic(label: str, runs: int, specs: int, steps: int, extra: list[str] | None = None) -> Session:
    """Write and run a synthetic suite in a temporary directory with an empty cache."""
    with tempfile.TemporaryDirectory(prefix="trainspec-bench-suite-") as tmp:
        path = write_suite(Path(tmp) / "suite", runs, specs, steps)
        return pytest_session(label, [str(path)], Path(tmp), Path(tmp) / "cache", extra)
