"""Fluent expectations on runs and series, with failures that explain themselves.

Each failed expectation raises :class:`~trainspec.exceptions.SpecFailure` (an
``AssertionError``) whose message says what was measured, what was required, where (step,
layer), shows the curve as a sparkline and names the seed to reproduce it.  The same facts ride
along as ``exc.details`` for the report and the JSON file.

A check that measured nothing never passes: an empty series, a run without trainable layers,
or a model whose layers of the kind checked could not be probed (a subclassed model, a
``Lambda``, a custom layer, a layer inside a nested model; see ``Run.unprobed``) fails with
"not measured" and says how to expose the layer.  A model that has no layer of that kind at all
(no ReLU anywhere, nothing hidden from the probes) passes: that is a measurement of the model.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from trainspec.constants import ActivationKind
from trainspec.exceptions import SpecFailure
from trainspec.run import Run, UnprobedLayer
from trainspec.series import Change, Series
from trainspec.sparkline import bucket_reduce

#: How to make a layer's activations visible to the probes (shown when a check measured nothing).
EXPOSE = ("to probe activations, build the model as a Sequential or functional model with each "
          "activation on a top-level layer: activation=... on a Dense/Conv layer, or "
          "keras.layers.Activation / keras.layers.ReLU (not inside a nested model, a Lambda, a "
          "custom layer's call() or a subclassed model's call())")


def not_measured(what: str, unprobed: list[UnprobedLayer], run: Run | None = None,
                 required: str = "a measurement") -> SpecFailure:
    """The failure of a check that could not measure what it checks: which layers could not be
    probed and why, and how to expose them.

    Example:
        >>> exc = not_measured("dead ReLU units", run.unprobed, run)   # doctest: +SKIP
        >>> str(exc).splitlines()[0]
        "dead ReLU units not measured: measured nothing, required every ReLU layer probed"
    """
    shown = "; ".join(f"{u.name!r} ({u.reason})" for u in unprobed[:5])
    more = f" and {len(unprobed) - 5} more" if len(unprobed) > 5 else ""
    where = f"could not probe {shown}{more}" if unprobed else None
    return fail(f"{what} not measured", measured="nothing", required=required, where=where,
                run=run, note=EXPOSE if unprobed else None)

_CURVE_POINTS = 200


def curve_points(series: Series, points: int = _CURVE_POINTS) -> list[float | None]:
    """The series downsampled to at most ``points`` values for reports (NaN/Inf -> None)."""
    values = np.asarray(series, dtype=np.float64)
    if values.size > points:
        values = bucket_reduce(values, points, np.median)
    return [float(v) if math.isfinite(v) else None for v in values]


def fail(
    what: str,
    *,
    measured: Any,
    required: str,
    series: Series | None = None,
    where: str | None = None,
    run: Run | None = None,
    note: str | None = None,
) -> SpecFailure:
    """Build a :class:`SpecFailure` with a readable message and structured details.

    ``measured`` may be a :class:`~trainspec.series.Change` (read as "a 40% decrease"); the
    series line describes the series' change the same way (:meth:`Series.change`) beside its
    sparkline.
    """
    lines = [f"{what}: measured {_fmt(measured)}, required {required}"]
    if where:
        lines.append(f"  where: {where}")
    change = None
    if series is not None and len(series):
        change = measured if isinstance(measured, Change) else series.change()
        lines.append(f"  {series.name}: {change.describe()}  {series.sparkline()}")
    if note:
        lines.append(f"  {note}")
    if run is not None:
        lines.append(f"  run {run.label!r}, seed {run.seed}" + _nonfinite_note(run))
    exc = SpecFailure("\n".join(lines))
    exc.details = {  # type: ignore[attr-defined]
        "what": what,
        "measured": _jsonable(measured),
        "required": required,
        "where": where,
        "curve_name": series.name if series is not None else None,
        "curve": curve_points(series) if series is not None else None,
        "change": change.to_json() if change is not None else None,
    }
    return exc


def _nonfinite_note(run: Run) -> str:
    return "" if run.nonfinite is None else f"; {run.nonfinite}"


def _fmt(value: Any) -> str:
    if isinstance(value, Change):
        return value.amount()
    if isinstance(value, float):
        return f"{value:.4g}"
    return str(value)


def _jsonable(value: Any) -> Any:
    if isinstance(value, Change):
        value = value.relative_decrease
    if isinstance(value, (float, np.floating)):
        return float(value) if math.isfinite(value) else None
    if isinstance(value, (int, str, bool)) or value is None:
        return value
    return str(value)


class SeriesExpectation:
    """Expectations on one :class:`Series`; each returns ``self`` so they chain."""

    def __init__(self, series: Series, run: Run | None = None):
        self.series = series
        self.run = run

    def _fail(self, what: str, measured: Any, required: str, where: str | None = None) -> None:
        __tracebackhide__ = True
        raise fail(what, measured=measured, required=required, series=self.series, where=where,
                   run=self.run)

    def _measured(self) -> None:
        """Fail when the series holds no value (nothing to check: never a pass)."""
        __tracebackhide__ = True
        if not len(self.series):
            raise fail(f"{self.series.name} not measured", measured="no values",
                       required="at least one recorded value", run=self.run,
                       note="the series is empty: the run recorded no step of it (a frozen "
                       "layer has no gradient; a run that diverged at step 0 has no values)")

    def to_fall_by(self, fraction: float, window: int | None = None) -> SeriesExpectation:
        """The series falls by ``fraction`` of its start (0.5: by half), start and end being
        the windowed medians of :meth:`Series.change`."""
        __tracebackhide__ = True
        self._measured()
        change = self.series.change(window)
        if not change.relative_decrease >= fraction:
            percent = f"{fraction * 100:.3g}%"  # 0.999 -> 99.9%, not a rounded 100%
            self._fail(f"{self.series.name} did not fall by {percent}", change,
                       f"a decrease of at least {percent} (relative_decrease >= {fraction:g})")
        return self

    def to_end_below(self, threshold: float, window: int = 20) -> SeriesExpectation:
        """The median of the last ``window`` values is below ``threshold``."""
        __tracebackhide__ = True
        self._measured()
        value = self.series.median(window)
        if not value < threshold:
            self._fail(f"{self.series.name} did not end below {threshold:.4g}", value,
                       f"< {threshold:.4g} (median of last {window})")
        return self

    def to_end_above(self, threshold: float, window: int = 20) -> SeriesExpectation:
        """The median of the last ``window`` values is above ``threshold``."""
        __tracebackhide__ = True
        self._measured()
        value = self.series.median(window)
        if not value > threshold:
            self._fail(f"{self.series.name} did not end above {threshold:.4g}", value,
                       f"> {threshold:.4g} (median of last {window})")
        return self

    def to_stay_below(self, threshold: float) -> SeriesExpectation:
        """Every recorded value is below ``threshold``."""
        __tracebackhide__ = True
        self._measured()
        values = np.asarray(self.series)
        bad = np.flatnonzero(~(values < threshold))
        if bad.size:
            self._fail(f"{self.series.name} rose to {threshold:.4g} or above", self.series.max(),
                       f"< {threshold:.4g} at every step",
                       where=f"first at step {int(self.series.steps[bad[0]])}")
        return self

    def to_stay_above(self, threshold: float) -> SeriesExpectation:
        """Every recorded value is above ``threshold``."""
        __tracebackhide__ = True
        self._measured()
        values = np.asarray(self.series)
        bad = np.flatnonzero(~(values > threshold))
        if bad.size:
            self._fail(f"{self.series.name} fell to {threshold:.4g} or below", self.series.min(),
                       f"> {threshold:.4g} at every step",
                       where=f"first at step {int(self.series.steps[bad[0]])}")
        return self

    def to_reach_below(self, threshold: float, within: int | None = None) -> SeriesExpectation:
        """Some value within the first ``within`` steps (all, when None) is below ``threshold``."""
        __tracebackhide__ = True
        self._measured()
        step = self.series.first_below(threshold)
        if step is None or (within is not None and step >= within):
            limit = f"within {within} steps" if within is not None else "at some step"
            self._fail(f"{self.series.name} never went below {threshold:.4g} {limit}",
                       self.series.min() if step is None else f"step {step}", f"< {threshold:.4g} {limit}")
        return self

    def to_be_monotonic(self, decreasing: bool = True, tolerance: float = 0.0) -> SeriesExpectation:
        """Every step moves the same way, allowing ``tolerance`` back."""
        __tracebackhide__ = True
        self._measured()
        if not self.series.is_monotonic(decreasing, tolerance):
            diffs = np.diff(np.asarray(self.series, dtype=np.float64))
            bad = np.flatnonzero(diffs > tolerance if decreasing else diffs < -tolerance)
            direction = "decreasing" if decreasing else "increasing"
            self._fail(f"{self.series.name} is not monotonically {direction}",
                       f"{len(bad)} steps move back", f"none (tolerance {tolerance:g})",
                       where=f"first at step {int(self.series.steps[bad[0] + 1])}")
        return self


class RunExpectation:
    """Expectations on a :class:`Run` named after the symptoms the curriculum teaches."""

    def __init__(self, run: Run):
        self.run = run

    def _fail(self, what: str, measured: Any, required: str, *, series: Series | None = None,
              where: str | None = None, note: str | None = None) -> None:
        __tracebackhide__ = True
        raise fail(what, measured=measured, required=required, series=series, where=where,
                   run=self.run, note=note)

    def to_be_finite(self) -> RunExpectation:
        """Nothing became NaN or Inf."""
        __tracebackhide__ = True
        if self.run.nonfinite is not None:
            nf = self.run.nonfinite
            self._fail("the run diverged", str(nf), "finite values at every step",
                       series=self.run.loss, where=f"step {nf.step}, {nf.tensor}")
        return self

    def loss_to_fall_by(self, fraction: float, window: int | None = None) -> RunExpectation:
        """The loss falls by ``fraction`` (0.5: by half) from start to end (windowed medians)."""
        __tracebackhide__ = True
        self.to_be_finite()
        SeriesExpectation(self.run.loss, self.run).to_fall_by(fraction, window)
        return self

    def gradients_to_reach_first_layer(self, min_ratio: float = 1e-3,
                                       min_norm: float = 1e-4) -> RunExpectation:
        """The first trainable layer's median gradient norm is at least ``min_ratio`` of the last
        layer's and at least ``min_norm`` (vanishing gradients fail both)."""
        __tracebackhide__ = True
        layers = self.run.layers
        self._layers_measured("gradients per layer")
        first, last = layers.first, layers.last
        g_first = first.grad_norm.median()
        g_last = last.grad_norm.median()
        ratio = g_first / g_last if g_last > 0 else (math.inf if g_first > 0 else 0.0)
        if not (ratio >= min_ratio and g_first >= min_norm):
            cut = (f"{', '.join(first.no_gradient)} received no gradient at all (cut off from "
                   "the loss)") if first.no_gradient else None
            self._fail("gradients vanish before the first layer",
                       f"median |grad| {g_first:.3g} at {first.name!r} = {ratio:.3g} x the last "
                       f"layer's {g_last:.3g}",
                       f"ratio >= {min_ratio:g} and |grad| >= {min_norm:g}",
                       series=first.grad_norm, where=f"layer {first.name!r}", note=cut)
        return self

    def _layers_measured(self, what: str) -> None:
        """Fail when no trainable layer was probed or none recorded a step."""
        __tracebackhide__ = True
        layers = self.run.layers.list()
        if not layers or not len(self.run.loss):
            frozen = [t.name for t in self.run.layers.frozen()]
            why = ("the run recorded no step" if layers else "no trainable layer was probed"
                   + (f" (frozen: {', '.join(frozen)})" if frozen else ""))
            raise fail(f"{what} not measured", measured="nothing", required="probed layers",
                       run=self.run, note=why)

    def _activations_measured(self, what: str, kinds: tuple[ActivationKind, ...],
                              measured: list[Any], layers: str) -> None:
        """Fail when layers of ``kinds`` could not be probed, or when nothing of ``kinds`` was
        measured while some layers (Lambda, custom, subclassed call) could hold them."""
        __tracebackhide__ = True
        known = [u for u in self.run.unprobed if u.kind in kinds]
        unknown = [u for u in self.run.unprobed if u.kind is None]
        if known or (not measured and unknown):
            raise not_measured(what, known or unknown, self.run,
                               required=f"every {layers} probed")
        if measured and not len(self.run.loss):
            raise fail(f"{what} not measured", measured="nothing", required="recorded steps",
                       run=self.run, note="the run recorded no step")

    def no_dead_units(self, max_fraction: float = 0.5, window: int = 20) -> RunExpectation:
        """No ReLU layer ends with more than ``max_fraction`` of its units dead."""
        __tracebackhide__ = True
        relu = self.run.activations.of_kind(ActivationKind.RELU)
        self._activations_measured("dead ReLU units", (ActivationKind.RELU,), relu, "ReLU layer")
        for act in relu:
            dead = act.dead.median(window)
            if not dead <= max_fraction:
                self._fail(f"ReLU units died in {act.name!r}", dead,
                           f"<= {max_fraction:.2g} (fraction of dead units, median of last {window})",
                           series=act.dead, where=f"layer {act.name!r}")
        return self

    def no_saturation(self, max_fraction: float = 0.5, window: int = 20) -> RunExpectation:
        """No sigmoid/tanh layer ends with more than ``max_fraction`` of its units saturated."""
        __tracebackhide__ = True
        kinds = (ActivationKind.SIGMOID, ActivationKind.TANH)
        squashing = self.run.activations.of_kind(*kinds)
        self._activations_measured("saturated sigmoid/tanh units", kinds, squashing,
                                   "sigmoid/tanh layer")
        for act in squashing:
            sat = act.saturated.median(window)
            if not sat <= max_fraction:
                self._fail(f"{act.activation} units saturated in {act.name!r}", sat,
                           f"<= {max_fraction:.2g} (median of last {window})",
                           series=act.saturated, where=f"layer {act.name!r}")
        return self

    def accuracy_above_chance(self, margin: float = 0.1, metric: str = "accuracy",
                              window: int = 20) -> RunExpectation:
        """Training accuracy (median of the last ``window`` steps) beats ``1/classes`` by
        ``margin``."""
        __tracebackhide__ = True
        self.to_be_finite()
        if metric not in self.run.metrics:
            recorded = ", ".join(self.run.metrics) or "none"
            raise fail(f"{metric} not measured", measured="nothing",
                       required=f"the metric {metric!r} recorded", run=self.run,
                       note=f"metric {metric!r} was not recorded; recorded: {recorded} (add "
                       f"{metric!r} to Recipe(metrics=[...]))")
        series = self.run.metric(metric)
        classes = self.run.classes_of(metric) or 2  # per output for ``out_a_accuracy``
        chance = 1.0 / classes
        value = series.median(window)
        if not value >= chance + margin:
            self._fail(f"{metric} is not above chance", value,
                       f">= {chance + margin:.3g} (chance {chance:.3g} for {classes} classes + {margin})",
                       series=series)
        return self

    def update_ratios_within(self, low: float = 1e-4, high: float = 1e-1,
                             window: int = 20) -> RunExpectation:
        """Every layer's median update-to-weight ratio over the last ``window`` steps lies in
        ``[low, high]`` (around 1e-3 is healthy)."""
        __tracebackhide__ = True
        self._layers_measured("update ratios")
        for layer in self.run.layers.list():
            ratio = layer.update_ratio.median(window)
            if not low <= ratio <= high:
                self._fail(f"update/weight ratio of {layer.name!r} out of range", ratio,
                           f"in [{low:g}, {high:g}]", series=layer.update_ratio,
                           where=f"layer {layer.name!r}")
        return self

    def activations_normalised(self, mean_within: float = 0.5, std_range: tuple[float, float] = (0.5, 2.0),
                               at_step: int = 0) -> RunExpectation:
        """Every activation layer's mean stays within ``±mean_within`` and its std within
        ``std_range`` at ``at_step`` (self-normalising nets keep ~0/~1 through depth)."""
        __tracebackhide__ = True
        lo, hi = std_range
        kinds = tuple(k for k in ActivationKind if k is not ActivationKind.SOFTMAX)
        acts = [a for a in self.run.activations.list() if a.kind is not ActivationKind.SOFTMAX]
        self._activations_measured("activation mean and spread", kinds, acts,
                                   "activation layer (softmax aside)")
        for act in acts:
            if not -len(act.mean) <= at_step < len(act.mean):
                raise fail(f"activations at step {at_step} not measured", measured="nothing",
                           required=f"a recorded step {at_step}", run=self.run,
                           note=f"{act.name!r} has {len(act.mean)} recorded steps")
            mean, std = act.mean[at_step], act.std[at_step]
            if abs(mean) > mean_within or not lo <= std <= hi:
                self._fail(f"activations drift from mean 0 / std 1 at {act.name!r}",
                           f"mean {mean:.3g}, std {std:.3g}",
                           f"|mean| <= {mean_within:g} and std in [{lo:g}, {hi:g}]",
                           series=act.std, where=f"layer {act.name!r}, step {at_step}")
        return self


def expect(subject: Run | Series, run: Run | None = None) -> Any:
    """Start a fluent expectation on a run or a series.

    Example:
        >>> expect(run).to_be_finite().loss_to_fall_by(0.5)                    # doctest: +SKIP
        >>> expect(run.layers.first.grad_norm).to_stay_above(1e-4)             # doctest: +SKIP
        >>> expect(run.metrics["accuracy"]).to_end_above(0.9)                  # doctest: +SKIP
    """
    if isinstance(subject, Run):
        return RunExpectation(subject)
    if isinstance(subject, Series):
        return SeriesExpectation(subject, run)
    raise TypeError(f"expect() takes a Run or a Series, got {type(subject).__name__}")
