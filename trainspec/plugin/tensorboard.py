"""Write runs as TensorBoard event files, so ``tensorboard --logdir DIR`` shows broken and fixed
side by side, as the course does.

``pytest specs/ --trainspec-tensorboard DIR`` writes one run directory per ``<pair>/<variant>``
(sweeps: ``<sweep>/<point>``, lone recipes: their label), each run once per session however many
specs use it.  A run directory holds:

- scalars at every recorded step: ``loss``, ``metrics/<name>``, ``layers/<layer>/grad_norm``,
  ``.../weight_norm``, ``.../update_ratio``, ``activations/<layer>/dead``, ``.../saturated``,
  ``.../mean``, ``.../std``, and ``val/<name>`` at each evaluation;
- histograms ``weights/<layer>`` and ``gradients/<layer>`` at the steps the run recorded them,
  in the histogram plugin's layout (a ``(bins, 3)`` tensor of left edge, right edge, count).

The files are written with TensorBoard's own event writer and protos (``tensorboard`` package),
which needs no TensorFlow ops; nothing here imports TensorFlow.
"""

from __future__ import annotations

import math
import re
import warnings
from pathlib import Path
from typing import Any

import numpy as np

_UNSAFE = re.compile(r"[^A-Za-z0-9_.=+-]")


class TensorBoardWarning(UserWarning):
    """A run could not be written as TensorBoard event files (the session goes on)."""


def _part(name: str) -> str:
    part = _UNSAFE.sub("_", name) or "_"
    return "_" * len(part) if set(part) == {"."} else part  # never "." or ".."


def run_dir(logdir: str | Path, *parts: str) -> Path:
    """The directory of one run under ``logdir``: ``logdir/<part>/<part>``, made filesystem-safe
    and always inside ``logdir`` (no part is ``.`` or ``..``; a symlinked part leading out is
    refused with ``ValueError``).

    Example:
        >>> from trainspec.plugin.tensorboard import run_dir
        >>> run_dir("tb", "high_learning_rate", "broken").as_posix()
        'tb/high_learning_rate/broken'
        >>> run_dir("tb", "..", "x").as_posix()
        'tb/__/x'
    """
    directory = Path(logdir).joinpath(*(_part(p) for p in parts))
    inside(directory, logdir)
    return directory


def inside(path: str | Path, folder: str | Path) -> Path:
    """``path`` resolved, after checking it lies in ``folder`` (resolved): every file the plugin
    writes or deletes goes through this check."""
    resolved, base = Path(path).resolve(), Path(folder).resolve()
    if resolved != base and base not in resolved.parents:
        raise ValueError(f"{path} resolves to {resolved}, outside the output folder {base}")
    return resolved


def scalars_by_step(run: Any) -> dict[int, dict[str, float]]:
    """Every scalar the run recorded, as ``{step: {tag: value}}`` (non-finite values dropped).

    Example:
        >>> scalars_by_step(run)[0]["loss"]                                  # doctest: +SKIP
        2.31
    """
    out: dict[int, dict[str, float]] = {}

    def put(tag: str, series: Any) -> None:
        for step, value in zip(series.steps, np.asarray(series, dtype=np.float64), strict=True):
            if math.isfinite(value):
                out.setdefault(int(step), {})[tag] = float(value)

    put("loss", run.loss)
    for name, series in run.metrics.items():
        put(f"metrics/{name}", series)
    for layer in run.layers.list():
        for key in ("grad_norm", "weight_norm", "update_ratio"):
            put(f"layers/{layer.name}/{key}", getattr(layer, key))
    for act in run.activations.list():
        for key in ("dead", "saturated", "mean", "std"):
            put(f"activations/{act.name}/{key}", getattr(act, key))
    for name, series in run.val_history.items():
        put(f"val/{name.removeprefix('val_')}", series)
    return out


def write_run(run: Any, directory: str | Path) -> Path:
    """Write ``run`` as event files in ``directory`` (earlier event files there are replaced).

    Example:
        >>> import trainspec
        >>> from trainspec.plugin.tensorboard import write_run
        >>> write_run(trainspec.train(recipe), "tb/my_run")                  # doctest: +SKIP
    """
    from tensorboard.compat.proto import event_pb2, summary_pb2
    from tensorboard.plugins.histogram import metadata as histogram_metadata
    from tensorboard.summary.writer.event_file_writer import EventFileWriter
    from tensorboard.util import tensor_util

    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    for old in directory.glob("events.out.tfevents.*"):
        old.unlink()
    writer = EventFileWriter(str(directory))
    try:
        for step, values in sorted(scalars_by_step(run).items()):
            summary = summary_pb2.Summary(
                value=[summary_pb2.Summary.Value(tag=tag, simple_value=v) for tag, v in values.items()]
            )
            writer.add_event(event_pb2.Event(step=step, summary=summary))
        hist = run.histograms
        if hist is not None:
            names = [layer.name for layer in run.layers.list()]
            for s, step in enumerate(hist.steps):
                values = []
                for kind, table in (("weights", hist.weights), ("gradients", hist.grads)):
                    for i, name in enumerate(names):
                        data = np.asarray(table[s, i], dtype=np.float64)
                        if not np.all(np.isfinite(data)):
                            continue
                        tag = f"{kind}/{name}"
                        values.append(summary_pb2.Summary.Value(
                            tag=tag,
                            metadata=histogram_metadata.create_summary_metadata(tag, ""),
                            tensor=tensor_util.make_tensor_proto(data),
                        ))
                writer.add_event(event_pb2.Event(step=int(step),
                                                 summary=summary_pb2.Summary(value=values)))
    finally:
        writer.close()
    return directory


class TensorBoardHook:
    """pytest plugin object: after each spec, writes the runs it used under ``logdir``, once per
    run directory per session.  Registered by ``--trainspec-tensorboard DIR``."""

    def __init__(self, logdir: str | Path):
        self.logdir = Path(logdir)
        self.written: set[Path] = set()
        self.failed: str | None = None

    def write(self, target: Any, runs: list[Any]) -> None:
        """Write the spec's runs: the first under its target's directory, any others (runs a
        spec trained itself) under ``<target dir>/<run label>``."""
        if target is None or not runs:
            return
        if target.kind == "recipe":
            base = run_dir(self.logdir, target.group)
        else:
            base = run_dir(self.logdir, target.group, target.variant)
        for i, run in enumerate(runs):
            directory = base if i == 0 else base / _part(run.label)
            if directory not in self.written:
                self.written.add(directory)
                inside(directory, self.logdir)
                write_run(run, directory)

    def pytest_runtest_makereport(self, item: Any, call: Any) -> None:
        if call.when != "call" or self.failed is not None:
            return
        from trainspec.plugin.observe import RUNS_KEY, TARGET_KEY

        try:
            self.write(item.stash.get(TARGET_KEY, None), item.stash.get(RUNS_KEY, []))
        except Exception as exc:  # an output must never cost the session its report
            self.failed = f"{type(exc).__name__}: {exc}"
            try:  # -W error must not turn the warning into an internal error either
                warnings.warn(TensorBoardWarning(
                    f"cannot write TensorBoard event files under {self.logdir} ({self.failed}); "
                    "the other outputs and the report are kept, no further runs are written"
                ), stacklevel=1)
            except Warning:
                pass
