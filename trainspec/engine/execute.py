"""Stage 3, execute: run the traced loop chunk by chunk, with validation, callbacks, progress.

In: a ``Prepared``.  Out: the ``Run`` (through ``assemble``).  Takes a kept traced loop when
``graphs`` has one for the recipe, else traces its own (and keeps it when shareable); calls the
loop on chunks of ``eval_every`` (or ``DEFAULT_CHUNK_STEPS``) steps; between chunks it reports
progress, evaluates the validation data and calls the recipe's Keras callbacks; stops at the
first non-finite value or when a callback sets ``model.stop_training``.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import tensorflow as tf

from trainspec.constants import DEFAULT_CHUNK_STEPS
from trainspec.engine import graphs
from trainspec.engine.assemble import assemble, finite_row
from trainspec.engine.loop import build_eval, build_loop
from trainspec.engine.messages import first_line, user_frame
from trainspec.engine.prepared import Prepared
from trainspec.engine.schedule import batch_indices, histogram_flags
from trainspec.events import PROGRESS
from trainspec.exceptions import DataError, RecipeError
from trainspec.run import Run


@dataclass
class Recorded:
    """What the chunks returned: the loop's arrays per chunk, validation points, early stop."""

    parts: list[dict[str, np.ndarray]] = field(default_factory=list)
    val_points: list[tuple[int, np.ndarray]] = field(default_factory=list)
    stopped_early_at: int | None = None


def run_graph(p: Prepared, fn: Callable[..., Any], *args: Any) -> Any:
    """Call a traced function of ``p``, turning TensorFlow's errors into trainspec's."""
    try:
        return fn(*args)
    except RecipeError:
        raise
    except tf.errors.OpError as exc:
        raise DataError(
            f"TensorFlow could not run a training step: {first_line(exc)}",
            recipe=p.label,
        ) from None
    except (ValueError, TypeError) as exc:
        raise RecipeError(
            f"the training step could not be built: {first_line(exc)}{user_frame(exc)}",
            recipe=p.label,
        ) from None


def val_logs(p: Prepared, values: np.ndarray) -> dict[str, float]:
    """``{"val_loss": ..., "val_<metric>": ...}`` from the evaluation's ``[loss, *metrics]``."""
    logs = {}
    if p.loss_fn is not None:
        logs["val_loss"] = float(values[0])
    for i, (name, _) in enumerate(p.metric_fns):
        logs[f"val_{name}"] = float(values[i + 1])
    return logs


def execute(p: Prepared) -> Run:
    """Train ``p`` (no memo, no store) and assemble its ``Run``.

    Example:
        >>> run = execute(prepare(recipe))              # doctest: +SKIP
        >>> run.steps_recorded == recipe.steps
        True
    """
    started = time.perf_counter()
    p.optimizer.build(p.model.trainable_variables)
    key = graphs.graph_key(p) if graphs.reuse_enabled() else None
    shared = graphs.take(key, p)
    if shared is not None:
        model, loop, evaluate = shared.model, shared.loop, shared.evaluate
    else:
        model = p.model
        loop = build_loop(p)
        evaluate = build_eval(p) if p.val is not None else None
    val = None if p.val is None else tuple(tf.constant(a) for a in p.val)
    recorded = _train_chunks(p, model, loop, evaluate, val)
    final_val: dict[str, float] = {}
    if evaluate is not None:
        final_val = val_logs(p, run_graph(p, evaluate, *val).numpy())
    if key is not None and shared is None:
        fns = [loop] if evaluate is None else [loop, evaluate]
        if graphs.shareable(fns, p.model, p.optimizer):
            graphs.keep(key, graphs.Graph(p.model, p.optimizer, loop, evaluate))
    return assemble(p, recorded.parts, recorded.val_points, final_val, recorded.stopped_early_at,
                    time.perf_counter() - started)


def _start_callbacks(p: Prepared, model: Any, chunk: int) -> list[Any]:
    callbacks = list(p.recipe.callbacks)
    for cb in callbacks:
        cb.set_model(model)
        cb.set_params({"epochs": -(-p.recipe.steps // chunk), "steps": chunk, "verbose": 0})
        cb.on_train_begin()
    return callbacks


def _train_chunks(p: Prepared, model: Any, loop: Callable[..., Any],
                  evaluate: Callable[..., Any] | None, val: tuple | None) -> Recorded:
    """Call ``loop`` chunk after chunk until every step ran, a value was not finite, or a
    callback stopped training; validation and callbacks run at each ``eval_every``."""
    recipe = p.recipe
    x, y = (tf.constant(a) for a in p.train)
    idx = batch_indices(len(p.train[0]), recipe.steps, recipe.batch_size, recipe.seed)
    flags = histogram_flags(recipe.steps)
    chunk = recipe.eval_every or min(recipe.steps, DEFAULT_CHUNK_STEPS)
    for callback in PROGRESS:
        callback(p.label, 0, recipe.steps)
    callbacks = _start_callbacks(p, model, chunk)
    out = Recorded()
    done = 0
    epoch = 0
    while done < recipe.steps:
        end = min(done + chunk, recipe.steps)
        result = run_graph(p, loop, x, y, tf.constant(idx[done:end]), tf.constant(flags[done:end]))
        part = {k: v.numpy() for k, v in result.items()}
        out.parts.append(part)
        ran = len(part["loss"])
        for callback in PROGRESS:
            callback(p.label, done + ran, recipe.steps)
        if ran < end - done or not finite_row(part, -1):
            break  # the loop stopped at a non-finite value
        done = end
        if recipe.eval_every and (done % recipe.eval_every == 0 or done == recipe.steps):
            logs = _epoch_logs(p, part, evaluate, val, done, out)
            for cb in callbacks:
                cb.on_epoch_end(epoch, logs)
            epoch += 1
            if getattr(model, "stop_training", False):
                out.stopped_early_at = done
                break
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
        values = run_graph(p, evaluate, *val).numpy()
        out.val_points.append((done - 1, values))
        logs.update(val_logs(p, values))
    return logs
