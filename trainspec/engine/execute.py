"""Stage 3, execute: run the traced loop chunk by chunk, with validation, callbacks, progress.

In: a ``Prepared``.  Out: the ``Run`` (through ``assemble``).  Takes a kept traced loop when
``graphs`` has one for the recipe, else traces its own (and keeps it when shareable); calls the
loop on chunks of ``eval_every`` (or ``DEFAULT_CHUNK_STEPS``) steps; between chunks it reports
progress, evaluates the validation data and calls the recipe's Keras callbacks; stops at the
first non-finite value or when a callback sets ``model.stop_training``.
"""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import tensorflow as tf

from trainspec.constants import DEFAULT_CHUNK_STEPS, HISTOGRAM_BINS
from trainspec.engine import graphs
from trainspec.engine.assemble import after_training, assemble, finite_row
from trainspec.engine.loop import build_eval, build_loop, histograms
from trainspec.engine.prepared import Prepared
from trainspec.engine.schedule import batch_indices, histogram_steps
from trainspec.events import PROGRESS
from trainspec.exceptions import TrainspecError
from trainspec.nested import n_samples
from trainspec.run import Run
from trainspec.targets import user_code
from trainspec.usercode import explain


@dataclass
class Recorded:
    """What the chunks returned: the loop's arrays per chunk, validation points, early stop."""

    parts: list[dict[str, np.ndarray]] = field(default_factory=list)
    val_points: list[tuple[int, np.ndarray]] = field(default_factory=list)
    stopped_early_at: int | None = None


def run_graph(p: Prepared, fn: Callable[..., Any], *args: Any, step: str | None = None) -> Any:
    """Call a traced function of ``p``, turning TensorFlow's errors into trainspec's: the field
    whose code raised, the step, the user's frames (:func:`trainspec.usercode.explain`)."""
    try:
        return fn(*args)
    except TrainspecError:
        raise
    except tf.errors.OpError as exc:  # raised while the graph ran
        raise explain(exc, p.recipe, model=p.model, step=step) from exc
    except Exception as exc:  # raised while the graph was traced, before any step ran
        raise explain(exc, p.recipe, model=p.model,
                      step="tracing the training step, before step 0") from exc


def val_logs(p: Prepared, values: np.ndarray) -> dict[str, float]:
    """``{"val_loss": ..., "val_<metric>": ...}`` from the evaluation's ``[loss, *metrics]``."""
    logs = {}
    if p.loss_fn is not None:
        logs["val_loss"] = float(values[0])
    for i, (name, _) in enumerate(p.metric_fns):
        logs[f"val_{name}"] = float(values[i + 1])
    return logs


def execute(p: Prepared) -> Run:
    """Train ``p`` (no memo, no store) and assemble its ``Run``, with the model's final weights
    (kept in memory; the disk cache stores them only for :func:`trainspec.trained_weights`).

    Example:
        >>> run = execute(prepare(recipe))              # doctest: +SKIP
        >>> run.steps_recorded == recipe.steps
        True
    """
    started = time.perf_counter()
    p.optimizer.build(p.model.trainable_variables)
    # a model trained in place (the user's object) is never kept for graph reuse
    key = graphs.graph_key(p) if graphs.reuse_enabled() and "restore" not in p.extra else None
    shared = graphs.take(key, p)
    if shared is not None:
        model, loop = shared.model, shared.loop
    else:
        model = p.model
        loop = build_loop(p)
    evaluate, new_eval = _evaluation(p, model, shared)
    val = None if p.val is None else tuple(tf.nest.map_structure(tf.constant, a) for a in p.val)
    recorded = _train_chunks(p, model, loop, evaluate, val)
    after_training(p, model)
    final_val: dict[str, float] = {}
    if evaluate is not None:
        final_val = val_logs(p, run_graph(p, evaluate, *val, step="the final validation").numpy())
    if key is not None:
        _keep(key, p, shared, loop, evaluate if new_eval else None)
    run = assemble(p, recorded.parts, recorded.val_points, final_val, recorded.stopped_early_at,
                   time.perf_counter() - started)
    # read now: a kept graph's model is reused by the next recipe
    return dataclasses.replace(run, final_weights=tuple(np.array(w) for w in model.get_weights()))


def _evaluation(p: Prepared, model: Any,
                shared: graphs.Graph | None) -> tuple[Callable[..., Any] | None, bool]:
    """The traced evaluation of ``p`` on ``model``, and whether it is new: a shared graph's, or
    one built for this run (none without validation data)."""
    if p.val is None:
        return None, False
    if shared is not None and graphs.val_key(p) in shared.evaluations:
        return shared.evaluations[graphs.val_key(p)], False
    return build_eval(p, model), True


def _keep(key: str, p: Prepared, shared: graphs.Graph | None, loop: Callable[..., Any],
          evaluate: Callable[..., Any] | None) -> None:
    """Keep the traced functions of a shareable run for the next recipe with its graph key: a
    freshly traced loop with its evaluation, or a new evaluation beside a shared loop."""
    if shared is None:
        fns = [loop] if evaluate is None else [loop, evaluate]
        if graphs.shareable(fns, p.model, p.optimizer):
            graph = graphs.Graph(p.model, p.optimizer, loop)
            if evaluate is not None:
                graph.evaluations[graphs.val_key(p)] = evaluate
            graphs.keep(key, graph)
    elif evaluate is not None and graphs.shareable([evaluate], shared.model, shared.optimizer):
        shared.evaluations[graphs.val_key(p)] = evaluate


def _start_callbacks(p: Prepared, model: Any, chunk: int) -> list[Any]:
    callbacks = list(p.recipe.callbacks)
    with user_code(p, "callbacks", "on_train_begin, before step 0"):
        for cb in callbacks:
            cb.set_model(model)
            cb.set_params({"epochs": -(-p.recipe.steps // chunk), "steps": chunk, "verbose": 0})
            cb.on_train_begin()
    return callbacks


def _pieces(start: int, end: int, snapshots: np.ndarray) -> list[tuple[int, int]]:
    """``[start, end)`` cut after every histogram step, so each such step ends a loop call."""
    cuts = [int(s) + 1 for s in snapshots if start <= s < end - 1]
    bounds = [start, *cuts, end]
    return list(zip(bounds[:-1], bounds[1:], strict=True))


def _run_piece(p: Prepared, model: Any, loop: Callable[..., Any], args: tuple, start: int,
               stop: int, snapshots: np.ndarray) -> dict[str, np.ndarray]:
    """The loop's arrays for steps ``[start, stop)``, with the histograms when the last of them
    is a histogram step and finite."""
    x, y, idx = args
    result = run_graph(p, loop, x, y, tf.constant(idx[start:stop]),
                       step=f"a step from {start} to {stop - 1}")
    grads = result.pop("grads")
    part = {k: v.numpy() for k, v in result.items()}
    n, bins = len(p.layers), HISTOGRAM_BINS
    part["whist"] = part["ghist"] = np.zeros((0, n, bins, 3), np.float32)
    if len(part["loss"]) == stop - start and stop - 1 in snapshots and finite_row(part, -1):
        w, g = histograms(p, list(model.trainable_variables), grads)
        part["whist"], part["ghist"] = w[None], g[None]
    return part


def _train_chunks(p: Prepared, model: Any, loop: Callable[..., Any],
                  evaluate: Callable[..., Any] | None, val: tuple | None) -> Recorded:
    """Call ``loop`` chunk after chunk until every step ran, a value was not finite, or a
    callback stopped training; validation and callbacks run at each ``eval_every``."""
    recipe = p.recipe
    x, y = (tf.nest.map_structure(tf.constant, a) for a in p.train)  # several inputs: tuples
    idx = batch_indices(n_samples(p.train[0]), recipe.steps, recipe.batch_size, recipe.seed)
    snapshots = histogram_steps(recipe.steps)
    chunk = recipe.eval_every or min(recipe.steps, DEFAULT_CHUNK_STEPS)
    for callback in PROGRESS:
        callback(p.label, 0, recipe.steps)
    callbacks = _start_callbacks(p, model, chunk)
    out = Recorded()
    done = 0
    epoch = 0
    while done < recipe.steps:
        end = min(done + chunk, recipe.steps)
        first = len(out.parts)
        stopped = False
        for start, stop in _pieces(done, end, snapshots):
            part = _run_piece(p, model, loop, (x, y, idx), start, stop, snapshots)
            out.parts.append(part)
            ran = len(part["loss"])
            for callback in PROGRESS:
                callback(p.label, start + ran, recipe.steps)
            if ran < stop - start or not finite_row(part, -1):
                stopped = True  # the loop stopped at a non-finite value
                break
        if stopped:
            break
        done = end
        if recipe.eval_every and (done % recipe.eval_every == 0 or done == recipe.steps):
            chunk_part = {k: np.concatenate([q[k] for q in out.parts[first:]])
                          for k in ("loss", "metrics")}
            logs = _epoch_logs(p, chunk_part, evaluate, val, done, out)
            with user_code(p, "callbacks", f"on_epoch_end of epoch {epoch}, after step {done - 1}"):
                for cb in callbacks:
                    cb.on_epoch_end(epoch, logs)
            epoch += 1
            if getattr(model, "stop_training", False):
                out.stopped_early_at = done
                break
    with user_code(p, "callbacks", "on_train_end"):
        for cb in callbacks:
            cb.on_train_end()
    return out


def _epoch_logs(p: Prepared, part: dict[str, np.ndarray], evaluate: Callable[..., Any] | None,
                val: tuple | None, done: int, out: Recorded) -> dict[str, float]:
    """Keras-style logs at the end of an ``eval_every`` chunk (chunk means, validation)."""
    logs = {"loss": float(np.mean(part["loss"]))}
    logs.update({name: float(np.mean(part["metrics"][:, i]))
                 for i, (name, _) in enumerate(p.metric_fns)})
    if evaluate is not None:
        values = run_graph(p, evaluate, *val, step=f"the validation after step {done - 1}").numpy()
        out.val_points.append((done - 1, values))
        logs.update(val_logs(p, values))
    return logs
