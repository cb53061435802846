"""``Run``: everything recorded while training a recipe, as plain numpy-backed data.

A run holds no TensorFlow objects, so it can be cached on disk, sent between pytest-xdist
processes and compared byte for byte (``Run.to_arrays`` / ``Run.from_arrays``).
"""

from __future__ import annotations

import json
import math
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any, Generic, TypeVar

import numpy as np

from trainspec.constants import ActivationKind
from trainspec.series import Series


@dataclass(frozen=True)
class LayerTrace:
    """Per-step probes of one trainable layer (all of its trainable variables together).

    ``grad_norm``: L2 norm of the layer's gradient; ``weight_norm``: L2 norm of its weights
    after the step; ``update_ratio``: ``||W_after - W_before|| / ||W_before||``.
    """

    name: str
    index: int
    class_name: str
    n_params: int
    grad_norm: Series
    weight_norm: Series
    update_ratio: Series
    #: False for a frozen layer (``trainable=False``): no gradient is taken, ``grad_norm`` is
    #: empty, and its weights are read before the first step and after the last: ``weight_norm``
    #: holds those two readings (at steps 0 and the last step), ``update_ratio`` one value at the
    #: last step, ``||W_after - W_before|| / ||W_before||`` over the whole run (0: they did not
    #: move).  Frozen layers are reached by name and ``run.layers.frozen()``, not by iteration.
    trainable: bool = True
    #: Paths of the layer's trainable variables that received no gradient (``None``: cut off from
    #: the loss, e.g. an unused branch); their ``grad_norm`` share is 0 and they never update.
    no_gradient: tuple[str, ...] = ()
    #: For frozen layers: whether the weights at the start looked freshly initialised (True),
    #: loaded or pretrained (False) or could not be told (None); see ``trainspec.freshness``.
    at_initializer: bool | None = None

    @property
    def moved(self) -> bool:
        """Whether the layer's weights changed during the run (any update ratio above 0)."""
        return bool(len(self.update_ratio)) and float(np.max(np.asarray(self.update_ratio))) > 0


@dataclass(frozen=True)
class UnprobedLayer:
    """A layer whose activations could not be probed: ``kind`` is its activation's family when
    known (a Keras layer inside a nested or subclassed model), None when it may compute anything
    (a ``Lambda``, a custom layer, a subclassed model's own ``call``); ``reason`` says which."""

    name: str
    kind: ActivationKind | None
    reason: str


@dataclass(frozen=True)
class ActivationTrace:
    """Per-step probes of one activation (a layer with a non-linear activation, or an
    activation layer such as ``ReLU``) on the training batch.

    ``dead``: fraction of units that were never active (output <= 0) on the whole batch, for the
    ReLU family whose slope is zero there (0 for other kinds); ``saturated``: fraction of
    unit-activations in the flat tails of a sigmoid (|z| > 5) or tanh (|z| > 2.5), 0 for other
    kinds; ``mean`` and ``std``: of all activations on the batch.
    """

    name: str
    index: int
    kind: ActivationKind
    activation: str
    units: int
    dead: Series
    saturated: Series
    mean: Series
    std: Series


@dataclass(frozen=True)
class NonFinite:
    """Where a run first produced NaN or Inf: the step and the tensor."""

    step: int
    tensor: str
    value: float

    def __str__(self) -> str:
        return f"{self.tensor} became {_fmt_nonfinite(self.value)} at step {self.step}"


def _fmt_nonfinite(value: float) -> str:
    if math.isnan(value):
        return "NaN"
    return "+Inf" if value > 0 else "-Inf"


@dataclass(frozen=True)
class Histograms:
    """Weight and gradient histograms of every trainable layer at a few steps.

    ``weights[s, l]`` and ``grads[s, l]`` are ``(bins, 3)`` arrays of (left edge, right edge,
    count) at ``steps[s]`` for layer ``l``, as TensorBoard's histogram plugin stores them.
    """

    steps: np.ndarray
    weights: np.ndarray
    grads: np.ndarray


T = TypeVar("T", LayerTrace, ActivationTrace)


class TraceMap(Mapping[str, T], Generic[T]):
    """Ordered traces, looked up by layer name or by position (``run.layers[0]``,
    ``run.layers["dense_1"]``, ``run.layers.first``, ``run.layers.last``).

    Iteration, ``len``, positions, ``first`` and ``last`` cover the trainable layers, as they
    always have; a frozen layer (``trace.trainable is False``) is found by name
    (``run.layers["base"]``) and listed by :meth:`frozen`; :meth:`all` has both in model order.
    """

    def __init__(self, traces: list[T]):
        self._all = list(traces)
        self._list = [t for t in self._all if getattr(t, "trainable", True)]
        self._by_name = {t.name: t for t in self._all}

    def __contains__(self, key: object) -> bool:
        return key in self._by_name

    def __getitem__(self, key: str | int) -> T:  # type: ignore[override]
        if isinstance(key, int):
            return self._list[key]
        try:
            return self._by_name[key]
        except KeyError:
            raise KeyError(f"no layer {key!r}; recorded: {', '.join(self._by_name)}") from None

    def __iter__(self) -> Iterator[str]:
        return iter(self._by_name)

    def __len__(self) -> int:
        return len(self._list)

    def list(self) -> list[T]:
        """The traces in model order."""
        return list(self._list)

    def all(self) -> list[T]:
        """Every trace, trainable and frozen, in model order."""
        return list(self._all)

    def frozen(self) -> list[T]:
        """The frozen layers' traces (``trainable=False``), in model order.

        Example:
            >>> [t.name for t in run.layers.frozen()]          # doctest: +SKIP
            ['features_1', 'features_2']
        """
        return [t for t in self._all if not getattr(t, "trainable", True)]

    def no_gradient(self) -> list[T]:
        """The layers with trainable variables that received no gradient."""
        return [t for t in self._all if getattr(t, "no_gradient", ())]

    @property
    def first(self) -> T:
        """The first trainable layer."""
        if not self._list:
            raise IndexError("no trainable layer was probed")
        return self._list[0]

    @property
    def last(self) -> T:
        """The last trainable layer."""
        if not self._list:
            raise IndexError("no trainable layer was probed")
        return self._list[-1]

    def of_kind(self, *kinds: ActivationKind | str) -> list[T]:
        """Activation traces of the given kinds, e.g. ``run.activations.of_kind("relu")``."""
        wanted = {str(k) for k in kinds}
        return [t for t in self._list if str(getattr(t, "kind", "")) in wanted]

    def __repr__(self) -> str:
        frozen = [t.name for t in self.frozen()]
        tail = f"; frozen: {', '.join(frozen)}" if frozen else ""
        return f"TraceMap([{', '.join(t.name for t in self._list)}]{tail})"


@dataclass(frozen=True)
class Run:
    """A finished training run.  Specs receive one and assert on it.

    Example:
        >>> run = trainspec.train(recipe)                     # doctest: +SKIP
        >>> run.loss.relative_decrease() > 0.5                # loss fell by half
        >>> run.layers.first.grad_norm.median() > 1e-4        # gradients reach layer 1
        >>> max(a.dead.last for a in run.activations.of_kind("relu")) < 0.5
        >>> run.metrics["accuracy"].median(20) > 0.2          # above chance
        >>> run.finite                                        # no NaN/Inf anywhere
    """

    label: str
    seed: int
    steps_requested: int
    batch_size: int
    loss: Series
    metrics: Mapping[str, Series]
    layers: TraceMap[LayerTrace]
    activations: TraceMap[ActivationTrace]
    nonfinite: NonFinite | None
    val_history: Mapping[str, Series]
    val: Mapping[str, float]
    stopped_early_at: int | None
    histograms: Histograms | None
    fingerprint: str
    wall_time: float
    n_classes: int | None = None
    output_activation: str | None = None
    loss_name: str | None = None
    #: Layers whose activations could not be probed (see :class:`UnprobedLayer`).
    unprobed: tuple[UnprobedLayer, ...] = ()
    #: A model of several outputs: their names (``loss`` is then their sum, and ``metrics``
    #: hold ``<output>_loss`` and ``<output>_<metric>``) and the classes each predicts.
    outputs: tuple[str, ...] = ()
    output_classes: Mapping[str, int | None] = field(default_factory=dict)
    from_cache: bool = field(default=False, compare=False)
    #: The model's weights after the last step (``model.get_weights()`` order): kept for runs
    #: trained in this process; a run from the disk cache has them only when it was trained
    #: through :func:`trainspec.trained_weights` (a base other recipes start from).
    final_weights: tuple[np.ndarray, ...] | None = field(default=None, compare=False, repr=False)

    @property
    def finite(self) -> bool:
        """True when nothing became NaN/Inf during the run."""
        return self.nonfinite is None

    @property
    def steps_recorded(self) -> int:
        return len(self.loss)

    @property
    def chance_loss(self) -> float | None:
        """``-log(1/C)``: the cross-entropy of a uniform guess over ``C`` classes."""
        return math.log(self.n_classes) if self.n_classes and self.n_classes > 1 else None

    def classes_of(self, metric: str) -> int | None:
        """The classes the output a metric is recorded for predicts: ``n_classes``, or for
        ``out_a_accuracy`` of a model of several outputs, the classes of ``out_a``.

        Example:
            >>> run.classes_of("out_a_accuracy")              # doctest: +SKIP
            3
        """
        for name in sorted(self.outputs, key=len, reverse=True):  # out_ab before out_a
            if metric.removeprefix("val_").startswith(f"{name}_"):
                return self.output_classes.get(name)
        return self.n_classes

    def metric(self, name: str) -> Series:
        """One metric's series, with a helpful error naming the recorded ones."""
        try:
            return self.metrics[name]
        except KeyError:
            raise KeyError(
                f"metric {name!r} was not recorded; recorded: {', '.join(self.metrics) or 'none'}"
                " (add it to Recipe(metrics=[...]))"
            ) from None

    def summary(self) -> dict[str, Any]:
        """JSON-ready summary numbers, as written to ``--trainspec-json``."""
        out: dict[str, Any] = {
            "steps_recorded": self.steps_recorded,
            "steps_requested": self.steps_requested,
            "loss_first": _num(self.loss.first),
            "loss_last": _num(self.loss.last),
            "loss_min": _num(self.loss.min()),
            "loss_relative_decrease": _num(self.loss.relative_decrease()),
            "finite": self.finite,
            "nonfinite": None
            if self.nonfinite is None
            else {"step": self.nonfinite.step, "tensor": self.nonfinite.tensor},
            "metrics_last": {k: _num(v.last) for k, v in self.metrics.items()},
            "val": {k: _num(v) for k, v in self.val.items()},
            "stopped_early_at": self.stopped_early_at,
        }
        if len(self.layers) >= 2 and len(self.loss):
            first = self.layers.first.grad_norm.median()
            last = self.layers.last.grad_norm.median()
            out["grad_norm_first_over_last"] = _num(first / last) if last else None
        relu = self.activations.of_kind(ActivationKind.RELU)
        if relu and len(self.loss):
            out["dead_fraction_max"] = _num(max(a.dead.last for a in relu))
        # what used to be invisible, named only when present (so healthy summaries stay short)
        frozen = self.layers.frozen()
        if frozen:
            out["frozen_layers"] = {t.name: {"moved": t.moved, "at_initializer": t.at_initializer}
                                    for t in frozen}
        cut = [v for t in self.layers.no_gradient() for v in t.no_gradient]
        if cut:
            out["no_gradient"] = cut
        if self.unprobed:
            out["unprobed_layers"] = [u.name for u in self.unprobed]
        return out

    # -- serialisation -------------------------------------------------------------------------

    def to_arrays(self) -> dict[str, np.ndarray]:
        """The run as a flat dict of numpy arrays (``meta`` holds JSON), for ``np.savez``."""
        arrays: dict[str, np.ndarray] = {
            "loss": np.asarray(self.loss),
            "steps": np.asarray(self.loss.steps),
        }
        for i, (_name, s) in enumerate(self.metrics.items()):
            arrays[f"metric{i}"] = np.asarray(s)
        for i, t in enumerate(self.layers.all()):
            for key in ("grad_norm", "weight_norm", "update_ratio"):
                series = getattr(t, key)
                arrays[f"layer{i}_{key}"] = np.asarray(series)
                if not np.array_equal(series.steps, self.loss.steps):  # a frozen layer's
                    arrays[f"layer{i}_{key}_steps"] = np.asarray(series.steps)
        for i, a in enumerate(self.activations.list()):
            for key in ("dead", "saturated", "mean", "std"):
                arrays[f"act{i}_{key}"] = np.asarray(getattr(a, key))
        for i, (_name, s) in enumerate(self.val_history.items()):
            arrays[f"val{i}"] = np.asarray(s)
            arrays[f"val{i}_steps"] = np.asarray(s.steps)
        if self.histograms is not None:
            arrays["hist_steps"] = self.histograms.steps
            arrays["hist_weights"] = self.histograms.weights
            arrays["hist_grads"] = self.histograms.grads
        meta = {
            "label": self.label,
            "seed": self.seed,
            "steps_requested": self.steps_requested,
            "batch_size": self.batch_size,
            "metrics": list(self.metrics),
            "layers": [[t.name, t.index, t.class_name, t.n_params, t.trainable,
                        list(t.no_gradient), t.at_initializer] for t in self.layers.all()],
            "unprobed": [[u.name, None if u.kind is None else str(u.kind), u.reason]
                         for u in self.unprobed],
            "activations": [
                [a.name, a.index, str(a.kind), a.activation, a.units]
                for a in self.activations.list()
            ],
            "nonfinite": None
            if self.nonfinite is None
            else [self.nonfinite.step, self.nonfinite.tensor, repr(self.nonfinite.value)],
            "val_history": list(self.val_history),
            "val": {k: repr(float(v)) for k, v in self.val.items()},
            "stopped_early_at": self.stopped_early_at,
            "fingerprint": self.fingerprint,
            "wall_time": self.wall_time,
            "n_classes": self.n_classes,
            "output_activation": self.output_activation,
            "loss_name": self.loss_name,
        }
        if self.outputs:  # only then: a one-output run's arrays stay as they were
            meta["outputs"] = list(self.outputs)
            meta["output_classes"] = dict(self.output_classes)
        if self.final_weights is not None:
            meta["final_weights"] = len(self.final_weights)
            for i, w in enumerate(self.final_weights):
                arrays[f"final{i}"] = np.asarray(w)
        arrays["meta"] = np.frombuffer(json.dumps(meta).encode(), dtype=np.uint8)
        return arrays

    @classmethod
    def from_arrays(cls, arrays: Mapping[str, np.ndarray], from_cache: bool = False) -> Run:
        """Rebuild a run written by :meth:`to_arrays`."""
        meta = json.loads(bytes(np.asarray(arrays["meta"], dtype=np.uint8)).decode())
        steps = arrays["steps"]
        metrics = {
            name: Series(name, arrays[f"metric{i}"], steps) for i, name in enumerate(meta["metrics"])
        }
        layers = [
            LayerTrace(
                name=entry[0],
                index=entry[1],
                class_name=entry[2],
                n_params=entry[3],
                **{
                    key: Series(f"{entry[0]}.{key}", arrays[f"layer{i}_{key}"],
                                arrays.get(f"layer{i}_{key}_steps", steps))
                    for key in ("grad_norm", "weight_norm", "update_ratio")
                },
                trainable=bool(entry[4]) if len(entry) > 4 else True,
                no_gradient=tuple(entry[5]) if len(entry) > 5 else (),
                at_initializer=entry[6] if len(entry) > 6 else None,
            )
            for i, entry in enumerate(meta["layers"])
        ]
        activations = [
            ActivationTrace(
                name=name,
                index=index,
                kind=ActivationKind(kind),
                activation=activation,
                units=units,
                **{
                    key: Series(f"{name}.{key}", arrays[f"act{i}_{key}"], steps)
                    for key in ("dead", "saturated", "mean", "std")
                },
            )
            for i, (name, index, kind, activation, units) in enumerate(meta["activations"])
        ]
        val_history = {
            name: Series(name, arrays[f"val{i}"], arrays[f"val{i}_steps"])
            for i, name in enumerate(meta["val_history"])
        }
        nonfinite = meta["nonfinite"]
        histograms = (
            Histograms(arrays["hist_steps"], arrays["hist_weights"], arrays["hist_grads"])
            if "hist_steps" in arrays
            else None
        )
        return cls(
            label=meta["label"],
            seed=meta["seed"],
            steps_requested=meta["steps_requested"],
            batch_size=meta["batch_size"],
            loss=Series("loss", arrays["loss"], steps),
            metrics=metrics,
            layers=TraceMap(layers),
            activations=TraceMap(activations),
            nonfinite=None
            if nonfinite is None
            else NonFinite(nonfinite[0], nonfinite[1], float(nonfinite[2])),
            val_history=val_history,
            val={k: float(v) for k, v in meta["val"].items()},
            stopped_early_at=meta["stopped_early_at"],
            histograms=histograms,
            fingerprint=meta["fingerprint"],
            wall_time=meta["wall_time"],
            n_classes=meta["n_classes"],
            output_activation=meta["output_activation"],
            loss_name=meta["loss_name"],
            unprobed=tuple(UnprobedLayer(name, None if kind is None else ActivationKind(kind), why)
                           for name, kind, why in meta.get("unprobed", [])),
            outputs=tuple(meta.get("outputs", ())),
            output_classes=dict(meta.get("output_classes", {})),
            from_cache=from_cache,
            final_weights=None
            if "final_weights" not in meta
            else tuple(np.asarray(arrays[f"final{i}"]) for i in range(meta["final_weights"])),
        )

    def __repr__(self) -> str:
        status = "finite" if self.finite else f"non-finite: {self.nonfinite}"
        return (
            f"Run({self.label!r}, seed={self.seed}, {self.steps_recorded}/{self.steps_requested}"
            f" steps, loss: {self.loss.change().amount()}, {status})"
        )


def _num(value: float) -> float | None:
    """A float for JSON: NaN/Inf become None."""
    value = float(value)
    return value if math.isfinite(value) else None
