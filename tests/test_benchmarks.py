"""The benchmark script's quick paths, so it does not rot: figures 1 and 5 in-process on tiny
sizes, the tables, the JSON, the README markers and the process launcher."""

from __future__ import annotations

import json
import math
import sys

import numpy as np
import pytest

from benchmarks import report, suites, workloads
from benchmarks import run as bench


@pytest.fixture()
def tiny_plan() -> bench.Plan:
    plan = bench.Plan(quick=True, figures=[1, 5])
    plan.overhead_steps, plan.overhead_repeats, plan.overhead_tries = 20, 1, 1
    plan.series_steps, plan.series_depth = 20, 1
    return plan


def test_probe_overhead_and_series_rows(tiny_plan, tmp_path):
    details: dict = {}
    rows = bench.figure1(tiny_plan, details) + bench.figure5_series(tiny_plan, details)

    assert [r.id for r in rows] == [
        "probe_overhead_steady[mlp_3x128]", "probe_overhead_trace[mlp_3x128]",
        "probe_overhead_e2e[mlp_3x128]", "series_steps", "series_layers",
    ]
    overhead = details["probe_overhead"][0]
    assert overhead["steps"] == 20 and overhead["layers"] == 4
    for row in rows:
        assert row.ratio is not None and math.isfinite(row.ratio) and row.ratio > 0
    # recorded series are O(steps x layers): twice the steps, exactly twice the bytes
    base, longer, deeper = details["series"]
    assert longer["series_bytes"] == 2 * base["series_bytes"]
    assert (base["layers"], deeper["layers"]) == (2, 3)
    assert deeper["series_bytes"] < 1.5 * base["series_bytes"]
    assert rows[3].meets and rows[4].meets

    doc = report.document(rows, details, quick=True, note="test", load_before=[0.5, 0.5, 0.5],
                          duration=3.0)
    path = tmp_path / "results.json"
    report.write_json(doc, path)
    saved = json.loads(path.read_text())
    assert saved["schema"] == "trainspec-benchmarks" and saved["machine"]["cpu_count"] >= 1
    assert saved["machine"]["tensorflow"] and saved["rows"][3]["meets"] is True
    assert report.read_previous(path)["series_steps"] == pytest.approx(2.0)

    text = report.markdown(rows, doc)
    assert "| 1 | probes on vs off, steady state (mlp_3x128) |" in text
    assert "<= 1.15x" in text and "trainspec 0.1.0" in text and "test" in text


def test_train_against_the_bare_loop_row(tiny_plan):
    tiny_plan.bare_steps, tiny_plan.bare_tries = 20, 1
    details: dict = {}
    row, trace, rest = bench.figure7(tiny_plan, details)
    assert row.id == "train_vs_bare[mlp_3x128]" and row.target == 1.3
    assert trace.id == "train_vs_bare_trace[mlp_3x128]"
    assert rest.id == "train_vs_bare_rest[mlp_3x128]"
    for r in (row, trace, rest):  # tracing and the rest are reported apart, as ratios
        assert r.figure == 7 and r.ratio is not None and math.isfinite(r.ratio) and r.ratio > 0
    versus = details["versus_bare"][0]
    assert versus["steps"] == 20 and versus["layers"] == 4
    assert 0 < versus["bare_trace"] < versus["bare"]


def test_the_bare_loop_trains():
    total, trace, losses = workloads.bare_train(workloads.MLP, 30)
    assert losses.shape == (30,) and np.all(np.isfinite(losses))
    assert losses[-10:].mean() < losses[:10].mean()  # it learns: the floor is a real training
    assert 0 < trace < total


def test_readme_section_is_rewritten_between_markers(tmp_path):
    readme = tmp_path / "README.md"
    readme.write_text(f"# x\n\n{report.START}\nold\n{report.END}\n\n## Limits\n")
    report.rewrite_readme(readme, "| table |\n")
    assert readme.read_text() == f"# x\n\n{report.START}\n| table |\n{report.END}\n\n## Limits\n"

    readme.write_text("# no markers\n")
    with pytest.raises(SystemExit, match="markers"):
        report.rewrite_readme(readme, "| table |\n")


def test_unmet_target_and_missing_figures_read_plainly():
    row = report.Row(id="x", figure=3, what="cache", measured="—", baseline="10 s",
                     note="cache not available")
    assert row.meets is None and report.ratio_text(row) == "—"
    slow = report.Row(id="y", figure=1, what="probes", measured="2 ms", baseline="1 ms", ratio=2.0,
                      target=1.15)
    assert slow.meets is False and report.target_text(slow) == "<= 1.15x"
    with pytest.raises(SystemExit):
        bench.parse(["--only", "9"])
    assert bench.parse(["--only", "5,1", "--quick"]).figures == [1, 5]


def test_synthetic_suite_and_launcher(tmp_path):
    path = suites.write_suite(tmp_path, runs=2, specs=3, steps=10)
    source = path.read_text()
    compile(source, str(path), "exec")
    assert source.count("@trainspec.applies_to(RECIPES)") == 3 and "range(2)" in source

    proc = suites.run_process([sys.executable, "-c", "print('hi')"], tmp_path, tmp_path / "cache")
    assert proc.returncode == 0 and proc.stdout.strip() == "hi"
    # the launcher measures the child, not this process (which holds TensorFlow)
    assert 1 < proc.max_rss_mb < 200
    assert workloads.MLP.recipe(10).steps == 10


def test_baseline_cost_figure_measures_ratios():
    from benchmarks import regression

    cost = regression.baseline_cost(steps=20, seeds=2, repeats=1)
    assert cost.seeds == 2 and cost.steps == 20
    for ratio in (cost.record_ratio, cost.check_ratio):
        assert math.isfinite(ratio) and ratio > 0


def test_probe_cost_ablation_takes_out_what_it_names():
    from benchmarks import probe_cost

    result = probe_cost.profile(workloads.MLP, steps=4, repeats=1)
    ops, full = result["ops"], result["ops"]["full"]
    # op counts are deterministic: each variant leaves out (or adds) the ops it names
    assert ops["bare"] < ops["no_norms"] < ops["no_activations"] < full
    assert ops["no_metrics"] < full and ops["no_update_norm"] == ops["no_carried_grads"] == full
    assert ops["norms_every_16"] > full and ops["activations_every_16"] > full
    for stat in ("min", "median"):
        assert set(result[stat]["saves"]) == set(probe_cost.VARIANTS) - {"bare", "full"}
        assert all(math.isfinite(r) and r > 0 for r in result[stat]["ratio"].values())
    assert "| norms_every_16 |" in probe_cost.markdown([result])
