"""What each probe family costs per step: ``python -m benchmarks.probe_cost [--json PATH]``.

An ablation, not an inference: for each workload of figure 1 the engine's loop is built
several times on the same recipe, each time with one probe family taken out, and every variant
is timed at steady state against the bare loop of :func:`benchmarks.workloads.baseline_loop`
in the same process, the variants' calls alternating (rotated each round) so that load on the
machine falls on all of them.  A family's cost is the full loop's step minus the step of the
loop without it; a variant's ratio is its step over the bare step.

The variants (built from the engine's own code, with one piece swapped, see :data:`VARIANTS`):

- ``full``: the engine's loop as ``trainspec.train`` runs it;
- ``no_update_norm``: the update's norm taken from the weights after the update twice (a zero):
  the pre-update weights are no longer kept alive through the optimizer's write, which then
  copies nothing (the subtraction and its sums of squares stay, so this is the copy's cost);
- ``no_norms``: no gradient, weight or update norms (nor the reads around the update);
- ``no_activations``: no activation statistics, the plain model instead of its probed view;
- ``no_metrics``: no metric;
- ``no_carried_grads``: the last step's gradients (for the histogram snapshots) not carried
  through the loop;
- ``norms_every_16``, ``activations_every_16``: what sampling would give, the per-layer norms
  (or the activation statistics) computed in a ``tf.cond`` branch taken every 16th step, zeros
  on the others (the reads and the probed forward pass stay: the loop needs them anyway).

Results go to ``benchmarks/probe_cost.json`` and a Markdown table (README, "What each probe
costs").  Times are ratios and differences of one run; on a shared machine they move by a few
hundredths of a millisecond per step.
"""

from __future__ import annotations

import argparse
import contextlib
import dataclasses
import os
import statistics
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from benchmarks import report, workloads  # noqa: E402

#: The loops timed, the bare loop first.
VARIANTS = ("bare", "full", "no_update_norm", "no_norms", "no_activations", "no_metrics",
            "no_carried_grads", "norms_every_16", "activations_every_16")

#: The sampled variants' period (Cockpit's: its cheap instruments every 16th step).
EVERY = 16


@contextlib.contextmanager
def _swapped(obj: Any, name: str, value: Any) -> Iterator[None]:
    old = getattr(obj, name)
    setattr(obj, name, value)
    try:
        yield
    finally:
        setattr(obj, name, old)


def build(kind: str, p: Any) -> Any:
    """The loop of one variant on the prepared recipe ``p``, traced (a concrete function of
    ``(x, y, idx)``).  The engine's functions are swapped only while the variant traces."""
    import tensorflow as tf

    from trainspec.engine import loop as engine_loop
    from trainspec.engine import probes

    x, y = (tf.constant(a) for a in p.train)
    idx = tf.zeros([1, 32], tf.int32)
    if kind == "bare":
        return workloads.baseline_loop(p).get_concrete_function(x, y, idx)
    with contextlib.ExitStack() as stack:
        if kind == "no_update_norm":
            record = engine_loop.record_probes

            def without_before(p: Any, yb: Any, y_pred: Any, acts: list, grads: list,
                               before: list, after: list) -> dict[str, Any]:
                # the pre-update weights go unused: nothing holds them through the update
                return record(p, yb, y_pred, acts, grads, after, after)

            stack.enter_context(_swapped(engine_loop, "record_probes", without_before))
        elif kind == "no_norms":
            def no_norms(quantities: list, layers: list) -> Any:
                return tf.zeros([len(quantities), len(layers)])

            stack.enter_context(_swapped(probes, "layer_norms", no_norms))
        elif kind in ("norms_every_16", "activations_every_16"):
            module, name = (probes, "layer_norms") if kind == "norms_every_16" else (
                probes, "fused_activation_stats")
            stack.enter_context(_swapped(module, name, _sampled(getattr(module, name),
                                                                 p.optimizer)))
        elif kind == "no_activations":
            p = dataclasses.replace(p, acts=[], probe_model=None)
        elif kind == "no_metrics":
            p = dataclasses.replace(p, metric_fns=[])
        elif kind == "no_carried_grads":
            make_body = engine_loop._make_body

            def body_without_grads(p: Any) -> Callable[..., tuple]:
                body = make_body(p)

                def wrapped(*args: Any) -> tuple:
                    out = body(*args)  # (..., grads, rows), from (..., grads carried in, rows)
                    return (*out[:-2], args[-2], out[-1])  # the zeros carried in, unchanged

                return wrapped

            stack.enter_context(_swapped(engine_loop, "_make_body", body_without_grads))
        elif kind != "full":
            raise ValueError(f"unknown variant {kind!r}; expected one of {VARIANTS}")
        return engine_loop.build_loop(p).get_concrete_function(x, y, idx)


def _sampled(fn: Callable[..., Any], optimizer: Any) -> Callable[..., Any]:
    """``fn`` (``probes.layer_norms`` or ``probes.fused_activation_stats``) taken in a
    ``tf.cond`` every ``EVERY``-th optimizer step, zeros of its shape on the other steps."""
    import tensorflow as tf

    def sampled(first: list, second: list) -> Any:
        # (quantities, layers) -> (len(quantities), len(layers)); (acts, kinds) -> (len(acts), 4)
        shape = [len(first), len(second) if fn.__name__ == "layer_norms" else 4]
        taken = tf.equal(optimizer.iterations % EVERY, 0)
        return tf.cond(taken, lambda: fn(first, second), lambda: tf.zeros(shape))

    return sampled


def profile(workload: workloads.Workload, steps: int = 100, repeats: int = 21) -> dict[str, Any]:
    """Every variant of ``workload``: graph ops (deterministic), seconds to trace (one trace
    each), and seconds per step over ``repeats`` calls of ``steps`` steps after the first call,
    the variants alternating (rotated each round); per step both the median and the fastest
    call (on a shared machine the fastest is the least disturbed), each as a ratio to the bare
    loop and as what leaving the family out saves against the full loop."""
    import tensorflow as tf

    from benchmarks.op_profile import _body_ops
    from trainspec.engine.prepare import prepare
    from trainspec.engine.schedule import batch_indices

    tf.get_logger().setLevel("ERROR")
    recipe = workload.recipe(steps)
    idx = batch_indices(workloads.DIGITS_N, steps * (repeats + 1), 32, 1)
    loops, ops, trace = {}, {}, {}
    for kind in VARIANTS:
        p = prepare(recipe)
        p.optimizer.build(p.model.trainable_variables)
        x, y = (tf.constant(a) for a in p.train)
        started = time.perf_counter()
        concrete = build(kind, p)
        trace[kind] = time.perf_counter() - started
        body, outside = _body_ops(concrete)
        ops[kind] = sum(body.values()) + outside
        concrete(x, y, tf.constant(idx[:steps]))["loss"].numpy()  # first call: graph set-up
        loops[kind] = (concrete, x, y)
    times: dict[str, list[float]] = {kind: [] for kind in VARIANTS}
    for r in range(repeats):
        chunk = tf.constant(idx[(r + 1) * steps : (r + 2) * steps])
        order = VARIANTS[r % len(VARIANTS):] + VARIANTS[: r % len(VARIANTS)]
        for kind in order:
            concrete, x, y = loops[kind]
            started = time.perf_counter()
            concrete(x, y, chunk)["loss"].numpy()
            times[kind].append((time.perf_counter() - started) / steps)
    out: dict[str, Any] = {"workload": workload.name, "steps": steps, "repeats": repeats,
                           "ops": ops, "trace": trace, "times": times}
    for stat, fn in (("median", statistics.median), ("min", min)):
        step = {kind: fn(values) for kind, values in times.items()}
        out[stat] = {"step": step,
                     "ratio": {kind: value / step["bare"] for kind, value in step.items()},
                     # what leaving one family out saves, per step
                     "saves": {kind: step["full"] - value for kind, value in step.items()
                               if kind not in ("bare", "full")}}
    return out


def markdown(results: list[dict[str, Any]]) -> str:
    """The table README shows: per variant and workload, graph ops, per-step ms (fastest call /
    median) with its ratio to the bare loop, and what it saves against the full loop."""
    lines = ["| variant | " + " | ".join(
        f"{r['workload']}: ops | ms/step, fastest / median | vs bare | saves vs full"
        for r in results) + " |", "|---|" + "---|---|---|---|" * len(results)]
    for kind in VARIANTS:
        cells = []
        for r in results:
            lo, mid = r["min"], r["median"]
            saves = "" if kind in ("bare", "full") else (
                f"{1000 * lo['saves'][kind]:+.3f} / {1000 * mid['saves'][kind]:+.3f} ms")
            cells.append(f"{r['ops'][kind]} | {1000 * lo['step'][kind]:.3f} / "
                         f"{1000 * mid['step'][kind]:.3f} | {lo['ratio'][kind]:.2f}x / "
                         f"{mid['ratio'][kind]:.2f}x | {saves}")
        lines.append(f"| {kind} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.probe_cost", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--json", type=Path, default=ROOT / "benchmarks" / "probe_cost.json")
    parser.add_argument("--steps", type=int, default=100)
    parser.add_argument("--repeats", type=int, default=21)
    parser.add_argument("--threads", type=int, default=0,
                        help="TensorFlow's intra- and inter-op threads (0: its default, one per "
                             "core); 1 keeps the profile on one core when another process "
                             "holds the other")
    args = parser.parse_args(argv)
    if args.threads:
        import tensorflow as tf

        tf.config.threading.set_intra_op_parallelism_threads(args.threads)
        tf.config.threading.set_inter_op_parallelism_threads(args.threads)
    load_before = report.load()
    results = [profile(w, args.steps, args.repeats) for w in (workloads.MLP, workloads.DEEP)]
    print(markdown(results))
    report.save_profile(args.json, results, load_before, threads=args.threads or "default")
    return 0


if __name__ == "__main__":
    sys.exit(main())
