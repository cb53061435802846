"""Stage 4, assemble: from the loop's arrays to a ``Run``.

In: the ``Prepared`` and the arrays each chunk of the loop returned (``loss``, ``metrics``,
``grad``, ``weight``, ``ratio``, ``act``, ``whist``, ``ghist``), the validation points, the
final validation values and where training stopped.  Out: a ``Run`` of named ``Series`` (one
per probe and layer), histograms and, when the last recorded step was not finite, a
``NonFinite`` naming the first tensor that was not (that step's row is dropped).
``after_training`` reads what the loop does not record: the frozen layers' weights after the
run (their traces hold the readings before the first and after the last step) and which
trainable variables got no gradient when the step was traced.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from trainspec.engine import probes
from trainspec.engine.prepared import Prepared
from trainspec.engine.schedule import histogram_steps
from trainspec.run import ActivationTrace, Histograms, LayerTrace, NonFinite, Run, TraceMap
from trainspec.series import Series


def finite_row(part: dict[str, np.ndarray], row: int) -> bool:
    """True when loss, gradient and weight norms and activation statistics of ``row`` are all
    finite (or nothing was recorded)."""
    if not len(part["loss"]):
        return True
    values = [part["loss"][row : row + 1 or None], part["grad"][row], part["weight"][row],
              part["act"][row].ravel()]
    return bool(all(np.all(np.isfinite(v)) for v in values))


def first_nonfinite(p: Prepared, part: dict[str, np.ndarray], step: int) -> NonFinite:
    """Name the first tensor that was not finite on the last recorded row."""
    loss = float(part["loss"][-1])
    if not np.isfinite(loss):
        return NonFinite(step, "loss", loss)
    for kind, key in (("gradient", "grad"), ("weights", "weight")):
        row = part[key][-1]
        for lp, value in zip(p.layers, row, strict=False):
            if not np.isfinite(value):
                return NonFinite(step, f"{kind} of layer {lp.name!r}", float(value))
    row = part["act"][-1]
    for ap, stats in zip(p.acts, row, strict=False):
        if not np.all(np.isfinite(stats)):
            bad = float(stats[~np.isfinite(stats)][0])
            return NonFinite(step, f"activations of layer {ap.name!r}", bad)
    return NonFinite(step, "loss", loss)


def after_training(p: Prepared, model: Any) -> None:
    """Read what the loop does not record, from ``model``, the model that trained (the kept
    graph's when ``p`` shared one): the frozen layers' weights now and how far they moved, and
    which trainable variables got no gradient when the step was traced."""
    p.extra["frozen_after"] = probes.frozen_norms(model, p.frozen)
    p.extra["frozen_moved"] = probes.frozen_moved(model, p.frozen, p.extra.pop("frozen_before", []))
    p.extra["no_gradient"] = probes.no_gradient(model)


def _frozen_traces(p: Prepared, steps: np.ndarray) -> list[LayerTrace]:
    """Traces of the frozen layers: weight norms before the first and after the last step."""
    start = p.extra.get("frozen_start", [])
    after = p.extra.get("frozen_after", [])
    moved = p.extra.get("frozen_moved", [])
    last = int(steps[-1]) if len(steps) else 0
    traces = []
    for k, fp in enumerate(p.frozen):
        norms = [start[k], after[k]] if k < len(after) else [start[k], np.nan]
        ratio = moved[k] if k < len(moved) else np.nan
        traces.append(LayerTrace(
            name=fp.name, index=fp.index, class_name=fp.class_name, n_params=fp.n_params,
            grad_norm=Series(f"{fp.name}.grad_norm", np.zeros(0, np.float32), np.zeros(0, np.int64)),
            weight_norm=Series(f"{fp.name}.weight_norm", np.array(norms, np.float32),
                               np.array([0, last], np.int64)),
            update_ratio=Series(f"{fp.name}.update_ratio", np.array([ratio], np.float32),
                                np.array([last], np.int64)),
            trainable=False, at_initializer=fp.at_initializer,
        ))
    return traces


def _layer_traces(p: Prepared, data: dict[str, np.ndarray], steps: np.ndarray) -> TraceMap:
    missed = set(p.extra.get("no_gradient", ()))
    variables = p.model.trainable_variables
    trainable = [
        LayerTrace(
            name=lp.name,
            index=lp.index,
            class_name=type(lp.layer).__name__,
            n_params=lp.n_params,
            grad_norm=Series(f"{lp.name}.grad_norm", data["grad"][:, i], steps),
            weight_norm=Series(f"{lp.name}.weight_norm", data["weight"][:, i], steps),
            update_ratio=Series(f"{lp.name}.update_ratio", data["ratio"][:, i], steps),
            no_gradient=tuple(probes.variable_name(variables[j]) for j in lp.var_idx
                              if j in missed),
        )
        for i, lp in enumerate(p.layers)
    ]
    every = trainable + _frozen_traces(p, steps)
    return TraceMap(sorted(every, key=lambda t: t.index))


def _activation_traces(p: Prepared, data: dict[str, np.ndarray], steps: np.ndarray) -> TraceMap:
    return TraceMap([
        ActivationTrace(
            name=ap.name,
            index=ap.index,
            kind=ap.kind,
            activation=ap.activation,
            units=int(ap.layer.output.shape[-1]),
            dead=Series(f"{ap.name}.dead", data["act"][:, i, 0], steps),
            saturated=Series(f"{ap.name}.saturated", data["act"][:, i, 1], steps),
            mean=Series(f"{ap.name}.mean", data["act"][:, i, 2], steps),
            std=Series(f"{ap.name}.std", data["act"][:, i, 3], steps),
        )
        for i, ap in enumerate(p.acts)
    ])


def _val_history(p: Prepared, val_points: list[tuple[int, np.ndarray]]) -> dict[str, Series]:
    val_history: dict[str, Series] = {}
    if val_points:
        at = np.array([s for s, _ in val_points], dtype=np.int64)
        table = np.stack([v for _, v in val_points])
        names = (["val_loss"] if p.loss_fn is not None else []) + [
            f"val_{n}" for n, _ in p.metric_fns
        ]
        offset = 0 if p.loss_fn is not None else 1
        for j, name in enumerate(names):
            val_history[name] = Series(name, table[:, j + offset], at)
    return val_history


def assemble(
    p: Prepared,
    parts: list[dict[str, np.ndarray]],
    val_points: list[tuple[int, np.ndarray]],
    final_val: dict[str, float],
    stopped_early_at: int | None,
    wall_time: float,
) -> Run:
    """The ``Run`` of ``p`` from the loop's chunks.

    Example:
        >>> run = assemble(p, parts, [], {}, None, 1.5)      # doctest: +SKIP
        >>> run.layers[0].grad_norm.values.shape == (p.recipe.steps,)
        True
    """
    data = {key: np.concatenate([part[key] for part in parts], axis=0) for key in parts[0]}
    nonfinite = None
    if len(data["loss"]) and not finite_row(data, -1):
        step = len(data["loss"]) - 1
        nonfinite = first_nonfinite(p, data, step)
        data = {k: v[:-1] if k not in ("whist", "ghist") else v for k, v in data.items()}
    steps = np.arange(len(data["loss"]), dtype=np.int64)
    metrics = {
        name: Series(name, data["metrics"][:, i], steps) for i, (name, _) in enumerate(p.metric_fns)
    }
    hist_steps = histogram_steps(p.recipe.steps)[: len(data["whist"])]
    histograms = (
        Histograms(hist_steps, data["whist"], data["ghist"]) if len(data["whist"]) else None
    )
    return Run(
        label=p.label,
        seed=p.recipe.seed,
        steps_requested=p.recipe.steps,
        batch_size=p.recipe.batch_size,
        loss=Series("loss", data["loss"], steps),
        metrics=metrics,
        layers=_layer_traces(p, data, steps),
        activations=_activation_traces(p, data, steps),
        nonfinite=nonfinite,
        val_history=_val_history(p, val_points),
        val=final_val,
        stopped_early_at=stopped_early_at,
        histograms=histograms,
        fingerprint=p.fingerprint,
        wall_time=wall_time,
        n_classes=p.n_classes,
        output_activation=p.output_activation,
        loss_name=p.loss_name,
        unprobed=tuple(p.unprobed),
    )
