"""trainspec's benchmarks: every figure is a ratio against a baseline measured in the same run.

    python benchmarks/run.py [--quick] [--only 1,3] [--json PATH] [--readme] [--note TEXT]

1. probe overhead: the engine's probed loop vs the same compiled loop without probes;
2. ``trainspec.train`` vs ``model.fit`` in fresh processes;
3. ``pytest specs/`` with a cold disk cache vs again with nothing changed;
4. ``pytest specs/ -n 2`` vs ``-n 0``, and a synthetic suite with 10x the specs (same runs) or
   10x the runs;
5. peak RSS of ``pytest specs/`` vs a process that only imports, and the size of recorded series
   at 2x the steps or 2x the layers;
6. trajectory baselines: recording a seed envelope (5 seeds) and checking a run, vs one plain
   run.
7. ``trainspec.train`` (every probe) vs the same training as a bare compiled loop, 400 steps,
   tracing included.

``--quick`` (a smoke test, about two minutes) uses fewer steps and repeats and runs figures 3-5
on a small synthetic suite instead of ``specs/``.  Results go to ``benchmarks/results.json``
(compared with the previous file, if any) and a Markdown table; ``--readme`` writes that table
between the ``<!-- benchmarks:start/end -->`` markers of README.md; ``--keep`` keeps the rows of
figures not run from the existing results file.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import asdict
from pathlib import Path
from typing import Any

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from rich.console import Console  # noqa: E402

from benchmarks import regression, report, suites, workloads  # noqa: E402
from benchmarks.report import Row, megabytes, per_step, seconds  # noqa: E402

console = Console(stderr=False)


class Plan:
    """Sizes of every measurement, full or quick."""

    def __init__(self, quick: bool, figures: list[int]):
        self.quick = quick
        self.figures = set(figures)
        self.overhead_workloads = [workloads.MLP] if quick else [workloads.MLP, workloads.DEEP]
        self.overhead_steps = 100 if quick else 200
        self.overhead_repeats = 3 if quick else 7
        self.overhead_tries = 2  # end to end: the better of two
        self.overhead_traces = 2 if quick else 5  # tracing: the median of five
        self.fit_steps = 128 if quick else 384  # multiples of one epoch (2048 / 32 = 64 batches)
        self.fit_repeats = 1 if quick else 2
        self.suite_steps = 100 if quick else 200
        self.suite_runs, self.suite_specs = 3, 4
        self.ten_x_runs = not quick
        self.series_steps, self.series_depth = (50, 2) if quick else (200, 2)
        self.bare_steps = 400
        self.bare_tries = 2 if quick else 3


# -- figures -----------------------------------------------------------------------------------


def figure1(plan: Plan, details: dict[str, Any]) -> list[Row]:
    """probe overhead: the engine's loop vs the same loop without probes"""
    rows = []
    for workload in plan.overhead_workloads:
        o = workloads.probe_overhead(workload, plan.overhead_steps, plan.overhead_repeats,
                                     plan.overhead_tries, plan.overhead_traces)
        details.setdefault("probe_overhead", []).append(dict(asdict(o), steady_ratio=o.steady_ratio,
                                                             e2e_ratio=o.e2e_ratio,
                                                             trace_ratio=o.trace_ratio))
        rows.append(Row(
            id=f"probe_overhead_steady[{o.workload}]", figure=1,
            what=f"probes on vs off, steady state ({o.workload})",
            measured=per_step(o.probed_step), baseline=per_step(o.baseline_step),
            ratio=o.steady_ratio, target=1.15,
            note=f"{o.layers} weighted layers, every probe on vs the same compiled loop recording "
                 f"only the loss; median of {plan.overhead_repeats} calls of {o.steps} steps "
                 "after tracing",
        ))
        rows.append(Row(
            id=f"probe_overhead_trace[{o.workload}]", figure=1,
            what=f"tracing with probes vs without ({o.workload})",
            measured=seconds(o.probed_trace), baseline=seconds(o.baseline_trace),
            ratio=o.trace_ratio, target=1.5,
            note="get_concrete_function of the engine's loop vs the same loop recording only the "
                 f"loss, same recipe; median of {plan.overhead_traces} traces each, alternating",
        ))
        rows.append(Row(
            id=f"probe_overhead_e2e[{o.workload}]", figure=1,
            what=f"probes on vs off, end to end ({o.workload})",
            measured=seconds(o.probed_e2e), baseline=seconds(o.baseline_e2e),
            ratio=o.e2e_ratio,
            note=f"{o.steps} steps: optimizer build, tracing (first call {seconds(o.probed_first_call)}"
                 f" vs {seconds(o.baseline_first_call)}), every step, fetch; model build excluded",
        ))
    return rows


def figure7(plan: Plan, details: dict[str, Any]) -> list[Row]:
    """trainspec.train vs a bare compiled loop, tracing included"""
    rows = []
    for workload in plan.overhead_workloads:
        v = workloads.versus_bare(workload, plan.bare_steps, plan.bare_tries)
        details.setdefault("versus_bare", []).append(dict(asdict(v), ratio=v.ratio,
                                                          trace_ratio=v.trace_ratio,
                                                          rest_ratio=v.rest_ratio))
        common = (f"{v.layers} weighted layers, {v.steps} steps of 32; bare: one tf.function, "
                  "tf.while_loop, only the loss recorded, op determinism on")
        rows.append(Row(
            id=f"train_vs_bare[{v.workload}]", figure=7,
            what=f"train (all probes) vs a bare loop, tracing included ({v.workload})",
            measured=seconds(v.train), baseline=seconds(v.bare), ratio=v.ratio, target=1.3,
            note=f"{common}, model build included; best of {plan.bare_tries}",
        ))
        rows.append(Row(
            id=f"train_vs_bare_trace[{v.workload}]", figure=7,
            what=f"train vs a bare loop, tracing alone ({v.workload})",
            measured=seconds(v.train_trace), baseline=seconds(v.bare_trace), ratio=v.trace_ratio,
            note="get_concrete_function of the engine's loop of the same recipe vs of the bare "
                 f"loop; best of {plan.bare_tries}",
        ))
        rows.append(Row(
            id=f"train_vs_bare_rest[{v.workload}]", figure=7,
            what=f"train vs a bare loop, all but tracing ({v.workload})",
            measured=seconds(v.train - v.train_trace), baseline=seconds(v.bare - v.bare_trace),
            ratio=v.rest_ratio,
            note="the rows above minus tracing: model build, the first call's graph set-up, "
                 "every step, results",
        ))
    return rows


def figure2(plan: Plan, details: dict[str, Any]) -> list[Row]:
    """trainspec.train vs model.fit in fresh processes"""
    best = suites.fit_vs_train(plan.fit_steps, plan.fit_repeats)
    details["fit_vs_train"] = {mode: asdict(t) for mode, t in best.items()}
    fit, train, floor = best["fit"], best["train"], best["import"]
    name = workloads.MLP.name
    return [
        Row(
            id="train_vs_fit_work", figure=2,
            what=f"train vs model.fit, imports excluded ({name})",
            measured=seconds(train.work), baseline=seconds(fit.work),
            ratio=train.work / fit.work, target=0.5,
            note=f"fresh processes, {plan.fit_steps} steps of 32, best of {plan.fit_repeats}: data, "
                 "model, tracing, every step; the ratio the target applies to",
        ),
        Row(
            id="train_vs_fit_process", figure=2,
            what="train vs model.fit, whole process",
            measured=seconds(train.total), baseline=seconds(fit.total),
            ratio=train.total / fit.total,
            note=f"interpreter, imports and training; importing TensorFlow and Keras alone "
                 f"takes {seconds(floor.imports)} ({seconds(floor.total)} as a process)",
        ),
    ]


def figure345(plan: Plan, details: dict[str, Any]) -> list[Row]:
    """pytest sessions in fresh processes

    One cold session of the suite serves as the baseline of figures 3 and 4 and the peak RSS
    of figure 5; the quick plan uses a small synthetic suite instead of specs/."""
    help_text = suites.pytest_help()
    has_xdist = suites.xdist_available() and "--numprocesses" in help_text
    xdist_off = ["-n", "0"] if has_xdist else []
    key = "quick" if plan.quick else "specs"

    def record(session: suites.Session) -> suites.Session:
        details.setdefault("sessions", []).append(asdict(session))
        if not session.ok:
            console.print(f"[yellow]{session.label}: pytest exited {session.returncode}[/]\n"
                          f"{session.tail}", markup=False)
        return session

    rows: list[Row] = []
    with tempfile.TemporaryDirectory(prefix="trainspec-bench-") as tmp:
        if plan.quick:
            suite = suites.write_suite(Path(tmp) / "suite", plan.suite_runs, plan.suite_specs,
                                       plan.suite_steps)
            paths, cwd, subject = [str(suite)], Path(tmp), "synthetic suite"
        else:
            paths, cwd, subject = ["specs/"], suites.ROOT, "pytest specs/"
        cache = Path(tmp) / "cache"
        status(f"{subject}, cold")
        cold = record(suites.pytest_session("cold", paths, cwd, cache, xdist_off))

        if 3 in plan.figures:
            what = f"cache warm vs cold ({subject})"
            if suites.cache_available(help_text):
                status(f"figure 3: {subject}, warm cache")
                warm = record(suites.pytest_session("warm", paths, cwd, cache, xdist_off))
                rows.append(Row(
                    id=f"cache[{key}]", figure=3, what=what, measured=seconds(warm.seconds),
                    baseline=seconds(cold.seconds), ratio=warm.seconds / cold.seconds,
                    target=0.2,
                    note=f"again with nothing changed: {warm.runs_from_cache} of "
                         f"{warm.distinct_runs} runs from the cache; both include pytest's and "
                         "TensorFlow's start",
                ))
            else:
                rows.append(Row(id=f"cache[{key}]", figure=3, what=what, measured="—",
                                baseline=seconds(cold.seconds),
                                note="cache not available: this trainspec has no --trainspec-cache"))

        if 4 in plan.figures:
            if has_xdist:
                status(f"figure 4: {subject} -n 2")
                par = record(suites.pytest_session("n2", paths, cwd, Path(tmp) / "cache-n2",
                                                   ["-n", "2"]))
                rows.append(Row(
                    id=f"xdist[{key}]", figure=4, what=f"-n 2 vs -n 0 ({subject})",
                    measured=seconds(par.seconds), baseline=seconds(cold.seconds),
                    ratio=par.seconds / cold.seconds,
                    note=f"empty caches, {os.cpu_count()} CPUs; {par.distinct_runs} distinct runs, "
                         f"{par.items} items",
                ))
            else:
                rows.append(Row(id=f"xdist[{key}]", figure=4, what=f"-n 2 vs -n 0 ({subject})",
                                measured="—", baseline="—", note="pytest-xdist not installed"))
            one = cold
            if not plan.quick:
                status("figure 4: synthetic suite 1x")
                one = record(suites.synthetic("synthetic 1x", plan.suite_runs, plan.suite_specs,
                                              plan.suite_steps, xdist_off))
            rows += ten_x(plan, one, record, xdist_off)

        if 5 in plan.figures:
            status("figure 5: peak RSS of a process that only imports")
            floor = suites.child("import", 0)
            rows.append(Row(
                id=f"rss[{key}]", figure=5, what=f"peak RSS ({subject}) vs importing",
                measured=megabytes(cold.max_rss_mb), baseline=megabytes(floor.max_rss_mb),
                ratio=cold.max_rss_mb / floor.max_rss_mb,
                note=f"{cold.distinct_runs} runs in one process (-n 0) vs a process that only "
                     "imports TensorFlow and Keras",
            ))
    return rows


def ten_x(plan: Plan, one: suites.Session, record: Callable[[suites.Session], suites.Session],
          xdist_off: list[str]) -> list[Row]:
    """The synthetic suite with 10x the specs on the same runs, and 10x the runs."""
    rows = []
    runs, specs, steps = plan.suite_runs, plan.suite_specs, plan.suite_steps
    base = seconds(one.seconds)
    status("figure 4: synthetic suite, 10x specs")
    many_specs = record(suites.synthetic("10x specs", runs, 10 * specs, steps, xdist_off))
    rows.append(Row(
        id="ten_x_specs", figure=4,
        what="10x specs, same runs (synthetic)",
        measured=seconds(many_specs.seconds), baseline=base,
        ratio=many_specs.seconds / one.seconds, target=1.2,
        note=f"{runs} runs x {10 * specs} specs vs {runs} x {specs}, {steps} steps, -n 0, empty "
             "caches; the target is the benchmark's own: cost should follow runs, not specs",
    ))
    if plan.ten_x_runs:
        status("figure 4: synthetic suite, 10x runs")
        many_runs = record(suites.synthetic("10x runs", 10 * runs, specs, steps, xdist_off))
        rows.append(Row(
            id="ten_x_runs", figure=4,
            what="10x runs (synthetic), for contrast",
            measured=seconds(many_runs.seconds), baseline=base,
            ratio=many_runs.seconds / one.seconds,
            note=f"{10 * runs} runs x {specs} specs vs {runs} x {specs}",
        ))
    return rows


def figure5_series(plan: Plan, details: dict[str, Any]) -> list[Row]:
    """the size of recorded series at 2x the steps and 2x the layers"""
    base, longer, deeper = workloads.series_scaling(plan.series_steps, plan.series_depth)
    details["series"] = [dict(asdict(s), bytes_per_step_layer=s.bytes_per_step_layer)
                         for s in (base, longer, deeper)]

    def size(s: workloads.SeriesSize) -> str:
        return f"{s.series_bytes / 1024:.1f} KiB"

    note = (f"Run.to_arrays() of a blobs MLP: {base.steps} -> {longer.steps} steps, "
            f"{base.layers} layers; {base.bytes_per_step_layer:.0f} and "
            f"{longer.bytes_per_step_layer:.0f} bytes per step x layer; histograms and metadata "
            f"stay at {base.other_bytes / 1024:.0f} KiB")
    steps_ratio = longer.series_bytes / base.series_bytes
    layers_ratio = deeper.series_bytes / base.series_bytes
    return [
        Row(id="series_steps", figure=5, what="recorded series, 2x the steps",
            measured=size(longer), baseline=size(base), ratio=steps_ratio, target=2.2,
            note=note),
        Row(id="series_layers", figure=5,
            what=f"recorded series, {deeper.layers}/{base.layers} the layers",
            measured=size(deeper), baseline=size(base), ratio=layers_ratio,
            target=1.1 * deeper.layers / base.layers,
            note=f"{base.layers} -> {deeper.layers} weighted layers, {base.steps} steps; "
                 f"{deeper.bytes_per_step_layer:.0f} bytes per step x layer (loss and metrics "
                 "do not grow with layers)"),
    ]


def figure6_baselines(plan: Plan, details: dict[str, Any]) -> list[Row]:
    """trajectory baselines: recording K seeds and checking, vs one plain run"""
    cost = regression.baseline_cost(plan.suite_steps, seeds=5, repeats=1 if plan.quick else 3)
    details["baselines"] = dict(asdict(cost), record_ratio=cost.record_ratio,
                                check_ratio=cost.check_ratio)
    note = (f"{cost.workload}, {cost.steps} steps, in one process from an empty memo and no "
            "traced graphs; median of the repeats")
    return [
        Row(id="baseline_record", figure=6, what=f"record a seed-envelope baseline ({cost.seeds} "
            "seeds)", measured=seconds(cost.record), baseline=seconds(cost.plain),
            ratio=cost.record_ratio, target=float(cost.seeds),
            note=note + "; the seeds share one traced loop"),
        Row(id="baseline_check", figure=6, what="check a run against its baseline",
            measured=seconds(cost.check), baseline=seconds(cost.plain), ratio=cost.check_ratio,
            target=1.1, note=note + "; the run itself plus reading and comparing the file"),
    ]


FIGURES: dict[int, list[Callable[[Plan, dict[str, Any]], list[Row]]]] = {
    1: [figure1],
    2: [figure2],
    3: [figure345],
    4: [figure345],
    5: [figure345, figure5_series],
    6: [figure6_baselines],
    7: [figure7],
}


def status(text: str) -> None:
    console.print(f"[dim]{time.strftime('%H:%M:%S')}[/] {text}")


# -- command line ------------------------------------------------------------------------------


def parse(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python benchmarks/run.py", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true",
                        help="a smoke test: fewer steps and repeats, a synthetic suite instead of specs/")
    parser.add_argument("--only", default="1,2,3,4,5,6,7", metavar="FIGURES",
                        help="comma-separated figure numbers to run (default: all)")
    parser.add_argument("--json", type=Path, default=ROOT / "benchmarks" / "results.json",
                        metavar="PATH", help="where to write the results (default: %(default)s)")
    parser.add_argument("--readme", action="store_true",
                        help="write the Markdown table into README.md between the benchmark markers")
    parser.add_argument("--note", default="", help="a sentence stored with the results (e.g. 'busy machine')")
    parser.add_argument("--keep", action="store_true",
                        help="keep the rows of figures not run from the existing results file "
                             "(marked 'not re-measured here')")
    args = parser.parse_args(argv)
    try:
        args.figures = sorted({int(f) for f in args.only.split(",") if f.strip()})
    except ValueError:
        parser.error(f"--only takes figure numbers 1-6, got {args.only!r}")
    if not set(args.figures) <= set(FIGURES):
        parser.error(f"--only takes figure numbers 1-6, got {args.only!r}")
    return args


def main(argv: list[str] | None = None) -> int:
    args = parse(argv)
    plan = Plan(args.quick, args.figures)
    load_before = report.load()
    started = time.perf_counter()
    previous = report.read_previous(args.json)
    rows: list[Row] = []
    details: dict[str, Any] = {}
    done: set[Callable[..., Any]] = set()
    for number in args.figures:
        for fn in FIGURES[number]:
            if fn in done:
                continue
            done.add(fn)
            status(f"figure {number}: {(fn.__doc__ or fn.__name__).splitlines()[0]}")
            rows += fn(plan, details)
    if args.keep:
        old_rows, old_details = report.kept_rows(args.json, set(FIGURES) - set(args.figures))
        rows += old_rows
        details.update({k: v for k, v in old_details.items() if k not in details})
    rows.sort(key=lambda r: r.figure)
    doc = report.document(rows, details, quick=args.quick, note=args.note, load_before=load_before,
                          duration=time.perf_counter() - started)
    console.print()
    report.print_rows(console, rows, previous)
    console.print(report.machine_line(doc), style="dim")
    text = report.markdown(rows, doc)
    console.print()
    print(text, flush=True)  # unwrapped, to paste
    report.write_json(doc, args.json)
    console.print(f"wrote {args.json}")
    if args.readme:
        report.rewrite_readme(ROOT / "README.md", text)
        console.print(f"wrote the table into {ROOT / 'README.md'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
