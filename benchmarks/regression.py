"""Figure 6: the cost of trajectory baselines, as ratios to one plain run measured in the same
process: recording a seed envelope (K seeds) and checking a run against a stored baseline.

Each measurement starts from an empty memo and no traced graphs (the disk cache is not
installed), so every run trains; recording K seeds reuses the traced loop across seeds."""

from __future__ import annotations

import statistics
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

from benchmarks.workloads import MLP


@dataclass
class BaselineCost:
    workload: str
    steps: int
    seeds: int
    plain: float  # one trainspec.train of the recipe
    record: float  # baseline.record with K seeds, written to a file
    check: float  # trainspec.train + load the file + check

    @property
    def record_ratio(self) -> float:
        return self.record / self.plain

    @property
    def check_ratio(self) -> float:
        return self.check / self.plain


def _fresh() -> None:
    from trainspec.engine import clear_graphs, clear_memo

    clear_memo()
    clear_graphs()


def baseline_cost(steps: int, seeds: int = 5, repeats: int = 2) -> BaselineCost:
    """Median wall time of a plain run, a recording and a check (``repeats`` each)."""
    import trainspec
    from trainspec import baseline

    recipe = MLP.recipe(steps)
    trainspec.train(recipe)  # warm up imports and Keras' one-time setup
    plain, record, check = [], [], []
    with tempfile.TemporaryDirectory(prefix="trainspec-bench-baseline-") as tmp:
        path = Path(tmp) / "baseline.json"
        for _ in range(repeats):
            _fresh()
            started = time.perf_counter()
            trainspec.train(recipe)
            plain.append(time.perf_counter() - started)
            _fresh()
            started = time.perf_counter()
            baseline.record(recipe, seeds=seeds).dump(path)
            record.append(time.perf_counter() - started)
            _fresh()
            started = time.perf_counter()
            result = baseline.load(path).check(trainspec.train(recipe))
            check.append(time.perf_counter() - started)
            assert result.ok, result.message()
    return BaselineCost(MLP.name, steps, seeds, statistics.median(plain),
                        statistics.median(record), statistics.median(check))
