"""Where the probed loop's trace and steps go: ``python -m benchmarks.op_profile [--json PATH]``.

For each workload of figure 1, the engine's traced loop against the bare loop of
:func:`benchmarks.workloads.baseline_loop` on the same prepared recipe:

- graph ops of the per-step body (the ``tf.while_loop`` body function), split by what made
  them: the training step (forward, loss, gradient, update: the bare loop has only these; the
  loop's carries of the weights and gradients count here too), and each probe by its name
  scope in ``engine/loop.py`` (``probe_reads``: the variables read after the update;
  ``probe_norms``: gradient, weight and update norms, one fused reduction;
  ``probe_activations``; ``probe_metrics``; ``probe_row``: the finite check and the row
  written), plus the ops outside the body (loop set-up, cutting the rows);
- Python time of tracing by engine function (cProfile cumulative: the step, the probes);
- tracing time and per-step time of both loops, timed alternately in this process;
- TensorFlow's own price of one op in this process (:func:`per_op_cost`: a ``tf.while_loop``
  whose body is a chain of N cheap ops, N = 0, 200, 400), and from it the floor of each ratio:
  the bare loop plus the probes' extra ops at that price (:func:`floor`).

Op counts are deterministic (they are the evidence that survives a loaded machine); times are
ratios of the same run.  Results go to ``benchmarks/op_profile.json`` and a Markdown summary.
"""

from __future__ import annotations

import argparse
import collections
import cProfile
import os
import pstats
import re
import statistics
import sys
import time
from pathlib import Path
from typing import Any

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from benchmarks import report, workloads  # noqa: E402

SCOPES = ("probe_reads", "probe_norms", "probe_activations", "probe_metrics", "probe_row")

#: Engine functions whose cumulative trace time the profile reports.
TRACED = {"step": "step.py", "record_probes": "loop.py", "read": "loop.py",
          "checked": "loop.py", "layer_norms": "probes.py",
          "fused_activation_stats": "probes.py",
          "gradient": "backprop.py", "apply_gradients": "base_optimizer.py"}


def _body_ops(concrete: Any) -> tuple[collections.Counter, int]:
    """Ops of the loop body by origin, and the ops outside it."""
    graph = concrete.graph.as_graph_def()
    body: collections.Counter = collections.Counter()
    outside = len(graph.node)
    for function in graph.library.function:
        if "while_body" not in function.signature.name:
            outside += len(function.node_def)
            continue
        for node in function.node_def:
            # a scope entered twice gets a suffix: probe_reads/ and probe_reads_1/
            scope = next((s for s in SCOPES if re.search(rf"(^|/){s}(_\d+)?/", node.name)), None)
            body[scope or "step"] += 1
    return body, outside


def _trace_profile(loop: Any, args: tuple) -> tuple[float, dict[str, float]]:
    profiler = cProfile.Profile()
    started = time.perf_counter()
    profiler.enable()
    concrete = loop.get_concrete_function(*args)
    profiler.disable()
    seconds = time.perf_counter() - started
    stats = pstats.Stats(profiler).stats  # type: ignore[attr-defined]
    cumulative: dict[str, float] = {}
    for (filename, _, name), (_, _, _, ct, _) in stats.items():
        if name in TRACED and filename.endswith(TRACED[name]):
            cumulative[name] = max(cumulative.get(name, 0.0), ct)
    return seconds, cumulative | {"_concrete": concrete}  # type: ignore[dict-item]


def profile(workload: workloads.Workload, steps: int = 200, repeats: int = 5) -> dict[str, Any]:
    """Op counts, trace times and per-step times of the engine's loop vs the bare loop."""
    import tensorflow as tf

    from trainspec.engine.loop import build_loop
    from trainspec.engine.prepare import prepare
    from trainspec.engine.schedule import batch_indices

    tf.get_logger().setLevel("ERROR")
    recipe = workload.recipe(steps)
    idx = batch_indices(workloads.DIGITS_N, steps * (repeats + 1), 32, 1)
    out: dict[str, Any] = {"workload": workload.name}
    loops = {}
    for kind in ("engine", "bare"):
        p = prepare(recipe)
        p.optimizer.build(p.model.trainable_variables)
        loop = build_loop(p) if kind == "engine" else workloads.baseline_loop(p)
        x, y = (tf.constant(a) for a in p.train)
        trace, cumulative = _trace_profile(loop, (x, y, tf.constant(idx[:steps])))
        concrete = cumulative.pop("_concrete")
        body, outside = _body_ops(concrete)
        started = time.perf_counter()
        loop(x, y, tf.constant(idx[:steps]))["loss"].numpy()
        first = time.perf_counter() - started
        out[kind] = {"trace": trace, "first_call": first, "body_ops": dict(body),
                     "body_total": sum(body.values()), "outside_ops": outside,
                     "total_ops": sum(body.values()) + outside, "trace_python": cumulative,
                     "variables": len(p.model.trainable_variables), "layers": len(p.layers),
                     "activations": len(p.acts)}
        loops[kind] = (loop, x, y)
        if kind == "engine":
            out[kind]["norm_arithmetic"] = norm_arithmetic(p, steps)
    per_step: dict[str, list[float]] = {"engine": [], "bare": []}
    for r in range(repeats):
        chunk = tf.constant(idx[(r + 1) * steps : (r + 2) * steps])
        for kind, (loop, x, y) in loops.items():
            started = time.perf_counter()
            loop(x, y, chunk)["loss"].numpy()
            per_step[kind].append((time.perf_counter() - started) / steps)
    for kind in loops:
        out[kind]["step"] = statistics.median(per_step[kind])
    return out


def per_op_cost(sizes: tuple[int, ...] = (0, 200, 400), steps: int = 200,
                repeats: int = 5) -> dict[str, float]:
    """Seconds per graph op of TensorFlow itself, in this process: a ``tf.function`` over a
    ``tf.while_loop`` whose body is a chain of ``n`` ``Sin`` ops on 128 floats (one node each,
    nothing to fold), for each ``n`` of ``sizes``; the slope of a least-squares line through
    ``n`` of tracing (``get_concrete_function``), of the first call (graph optimisation and
    executor set-up, 1 step) and of one step (median of ``repeats`` calls of ``steps`` steps).
    """
    import numpy as np
    import tensorflow as tf

    def chain(n: int) -> Any:
        @tf.function(autograph=False, jit_compile=False,
                     input_signature=[tf.TensorSpec([], tf.int32)])
        def loop(steps: Any) -> Any:
            def body(i: Any, v: Any) -> tuple:
                for _ in range(n):
                    v = tf.sin(v)
                return i + 1, v

            return tf.while_loop(lambda i, v: i < steps, body, (tf.constant(0), tf.zeros([128])))[1]

        return loop

    trace, first, step = [], [], []
    for n in sizes:
        loop = chain(n)
        started = time.perf_counter()
        concrete = loop.get_concrete_function()
        trace.append(time.perf_counter() - started)
        started = time.perf_counter()
        concrete(tf.constant(1)).numpy()
        first.append(time.perf_counter() - started)
        times = []
        for _ in range(repeats):
            started = time.perf_counter()
            concrete(tf.constant(steps)).numpy()
            times.append((time.perf_counter() - started) / steps)
        step.append(statistics.median(times))
    slope = {name: float(np.polyfit(sizes, values, 1)[0])
             for name, values in (("trace", trace), ("first_call", first), ("step", step))}
    return slope | {"sizes": list(sizes)}  # type: ignore[dict-item]


def norm_arithmetic(p: Any, steps: int = 200, repeats: int = 5) -> float:
    """Seconds per step of the per-layer norms' arithmetic alone on ``p``'s variables: the
    three passes of :func:`trainspec.engine.probes.layer_norms` (gradients, weights, update)
    and the update's subtraction, over tensors of the trainable variables' shapes carried by a
    ``tf.while_loop`` (so nothing is hoisted), minus the same loop that only carries them."""
    import tensorflow as tf

    from trainspec.engine import probes

    shapes = [tuple(v.shape) for v in p.model.trainable_variables]
    layers = [lp.var_idx for lp in p.layers]
    init = tuple(tf.random.normal(s) for s in shapes)

    def loop(norms: bool) -> Any:
        @tf.function(autograph=False, jit_compile=False,
                     input_signature=[tf.TensorSpec([], tf.int32)])
        def run(steps: Any) -> Any:
            def body(i: Any, total: Any, g: tuple, w: tuple, b: tuple) -> tuple:
                if norms:
                    moved = [a - c for a, c in zip(w, b, strict=True)]
                    total = total + tf.reduce_sum(probes.layer_norms([list(g), list(w), moved],
                                                                     layers))
                return i + 1, total, g, w, b

            return tf.while_loop(lambda i, *_: i < steps, body,
                                 (tf.constant(0), tf.constant(0.0), init, init, init))[1]

        return run.get_concrete_function()

    runs = {True: loop(True), False: loop(False)}
    times: dict[bool, list[float]] = {True: [], False: []}
    for kind in (True, False):
        runs[kind](tf.constant(1)).numpy()
    for _ in range(repeats):
        for kind in (True, False):
            started = time.perf_counter()
            runs[kind](tf.constant(steps)).numpy()
            times[kind].append((time.perf_counter() - started) / steps)
    return max(0.0, statistics.median(times[True]) - statistics.median(times[False]))


def floor(result: dict[str, Any], cost: dict[str, float]) -> dict[str, float]:
    """What the engine's loop would cost if each of its extra ops (over the bare loop's) cost
    what :func:`per_op_cost` measured, plus (per step) the norms' arithmetic over every
    parameter (:func:`norm_arithmetic`), as ratios to the bare loop: the floor each
    probe-overhead ratio stands on while the probes keep their ops, beside the ratio measured.
    Tracing is also given at the bare loop's own price per op (its trace time over its ops),
    which is the ratio of the two loops' ops."""
    e, b = result["engine"], result["bare"]
    extra_body = e["body_total"] - b["body_total"]
    extra_total = e["total_ops"] - b["total_ops"]
    return {
        "extra_body_ops": extra_body, "extra_ops": extra_total,
        "norm_arithmetic": e["norm_arithmetic"],
        "step_floor": (b["step"] + extra_body * cost["step"] + e["norm_arithmetic"]) / b["step"],
        # at the bare step's own price per body op (its step time over its body ops: on these
        # small models dispatching an op costs more than its arithmetic): the body op ratio
        "step_floor_bare_price": e["body_total"] / b["body_total"],
        "bare_price_per_op": b["step"] / b["body_total"],
        "step_measured": e["step"] / b["step"],
        "trace_floor": (b["trace"] + extra_total * cost["trace"]) / b["trace"],
        # at the bare loop's own price per op (Keras' layers, the tape and the optimizer cost
        # more Python per op than a Sin): the op ratio
        "trace_floor_bare_price": e["total_ops"] / b["total_ops"],
        "trace_measured": e["trace"] / b["trace"],
    }


def markdown(results: list[dict[str, Any]]) -> str:
    """The summary table README shows."""
    lines = ["| workload | ops: engine / bare (body) | step | " + " | ".join(SCOPES)
             + " | outside body | trace s: engine / bare | per step ms: engine / bare |",
             "|---|---|---|" + "---|" * len(SCOPES) + "---|---|---|"]
    for r in results:
        e, b = r["engine"], r["bare"]
        scopes = " | ".join(str(e["body_ops"].get(s, 0)) for s in SCOPES)
        lines.append(
            f"| {r['workload']} ({e['layers']} layers, {e['variables']} variables, "
            f"{e['activations']} activations) | {e['total_ops']} / {b['total_ops']} "
            f"({e['body_total']} / {b['body_total']}) | {e['body_ops'].get('step', 0)} | {scopes} "
            f"| {e['outside_ops']} / {b['outside_ops']} | {e['trace']:.2f} / {b['trace']:.2f} "
            f"| {1000 * e['step']:.2f} / {1000 * b['step']:.2f} |")
    lines.append("")
    lines.append("Python time of the engine's trace by function (cProfile, cumulative, s): " + "; ".join(
        f"{r['workload']}: " + ", ".join(f"{k} {v:.2f}" for k, v in sorted(
            r["engine"]["trace_python"].items(), key=lambda kv: -kv[1]))
        for r in results))
    cost = results[0].get("per_op")
    if cost:
        lines.append("")
        lines.append(
            f"TensorFlow's price of one op here (a loop of N `Sin` ops, N = "
            f"{', '.join(map(str, cost['sizes']))}): tracing {1e6 * cost['trace']:.0f} us, "
            f"each step {1e6 * cost['step']:.2f} us. Steady-state floor: the bare step + the extra "
            "body ops at that price + the norms' arithmetic alone (three passes over every "
            "parameter and the update's subtraction, timed in a loop of their own); at the bare "
            "step's own price per body op (its step over its body ops) it is the body op ratio.")
        lines.append("")
        lines.append("| workload | extra ops: body / all | norms' arithmetic per step | "
                     "steady state: floor at a Sin's price / at the bare step's price per op "
                     "(body op ratio) / measured | tracing: floor at a Sin's price / at the "
                     "bare loop's price per op (op ratio) / measured |")
        lines.append("|---|---|---|---|---|")
        for r in results:
            f = r["floor"]
            lines.append(
                f"| {r['workload']} | {f['extra_body_ops']} / {f['extra_ops']} | "
                f"{1e3 * f['norm_arithmetic']:.2f} ms | "
                f"{f['step_floor']:.2f}x / {f['step_floor_bare_price']:.2f}x "
                f"({1e6 * f['bare_price_per_op']:.1f} us an op) / {f['step_measured']:.2f}x | "
                f"{f['trace_floor']:.2f}x / {f['trace_floor_bare_price']:.2f}x / "
                f"{f['trace_measured']:.2f}x |")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.op_profile", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--json", type=Path, default=ROOT / "benchmarks" / "op_profile.json")
    args = parser.parse_args(argv)
    load_before = report.load()
    results = [profile(w) for w in (workloads.MLP, workloads.DEEP)]
    cost = per_op_cost()
    for r in results:
        r["per_op"] = cost
        r["floor"] = floor(r, cost)
    print(markdown(results))
    report.save_profile(args.json, results, load_before)
    return 0


if __name__ == "__main__":
    sys.exit(main())
