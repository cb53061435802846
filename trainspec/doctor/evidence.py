"""The measurements several rules share, computed once per run: the loss curve's start, end and
low point, per-layer gradient traces, accuracy and its chance level.

:class:`Context` is what a rule's ``check`` receives: the run, the recipe (or None), the
thresholds, these measurements and the findings of the rules that ran before it.

Example:
    >>> ctx = Context.of(run, recipe, Thresholds())          # doctest: +SKIP
    >>> ctx.curve.decrease                                   # doctest: +SKIP
    0.93
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from trainspec.constants import DEFAULT_LEARNING_RATE, ActivationKind
from trainspec.doctor.symptoms import Finding, Symptom
from trainspec.doctor.thresholds import Thresholds
from trainspec.run import Run


@dataclass
class Curve:
    """The per-step training loss, summarised by medians over a window of ``window`` steps."""

    loss: np.ndarray
    window: int
    start: float
    end: float
    low: float  # minimum of the smoothed loss
    low_step: int

    @property
    def decrease(self) -> float:
        """The fall from start to end as a fraction of the start (negative when it rose)."""
        return 1.0 - self.end / self.start if self.start > 0 else 0.0

    @classmethod
    def of(cls, run: Run) -> Curve | None:
        """The curve of a finite run with at least 5 steps, else None."""
        loss = np.asarray(run.loss, dtype=np.float64)
        if len(loss) < 5 or not np.all(np.isfinite(loss)):
            return None
        w = max(3, min(20, len(loss) // 10))
        smooth = np.asarray(run.loss.smoothed(w), dtype=np.float64)[w - 1:]
        low_at = int(np.argmin(smooth)) + w - 1
        return cls(loss, w, float(np.median(loss[:w])), float(np.median(loss[-w:])),
                   float(smooth.min()), low_at)


def still_falling(values: np.ndarray) -> bool:
    """Whether ``values`` trend down by more than two standard errors of a least-squares slope.

    Per-batch losses scatter by the sampling noise of a minibatch (with 32 squared errors, a
    coefficient of variation near 0.25 is expected from sampling alone): a noisy curve that is
    still going down is learning, not bouncing across a minimum.  The usual two-standard-error
    test on the trend's slope separates the two without a threshold of its own.
    """
    if len(values) < 8:
        return False
    x = np.arange(len(values), dtype=np.float64)
    slope, intercept = np.polyfit(x, values, 1)
    residual = values - (slope * x + intercept)
    se = float(np.std(residual, ddof=2)) / math.sqrt(float(((x - x.mean()) ** 2).sum()))
    return bool(slope < 0 and (se == 0 or slope / se < -2.0))


def is_crossentropy(run: Run) -> bool:
    """Whether the run's loss is a cross-entropy (or an unnamed loss of a classifier)."""
    name = (run.loss_name or "").lower()
    return "crossentropy" in name or (run.loss_name is None and run.n_classes is not None)


def accuracy_of(run: Run) -> tuple[str, np.ndarray] | None:
    """The first recorded metric whose name contains ``acc``, as (name, values)."""
    for name, series in run.metrics.items():
        if "acc" in name.lower():
            return name, np.asarray(series, dtype=np.float64)
    return None


def val_accuracy(run: Run) -> float | None:
    """The final validation accuracy (the first finite ``val_*acc*`` value recorded), or None."""
    return next((float(v) for k, v in run.val.items()
                 if k.startswith("val_") and "acc" in k and v is not None and np.isfinite(v)),
                None)


def majority_share(recipe: Any) -> float | None:
    """The majority class's share of the recipe's training labels (one-hot rows or class ids),
    or None when they cannot be read as one array."""
    try:
        y = np.asarray(recipe.split()[0][1])
        labels = y.argmax(-1) if y.ndim >= 2 and y.shape[-1] > 1 else y.reshape(len(y), -1)[:, 0]
        _, counts = np.unique(np.round(labels), return_counts=True)
        return float(counts.max() / counts.sum())
    except Exception:
        return None


def input_signal(recipe: Any, limit: int = 4096) -> tuple[float, float, int] | None:
    """How well the raw inputs predict the labels: the held-out accuracy of a nearest class
    mean on the standardised, flattened training inputs (fitted on the even samples, scored
    on the odd ones), the majority share it must beat and the number of held-out samples;
    None when the inputs or the labels are not one array of classes.

    Above chance by more than sampling noise, the labels do carry signal the inputs show; at
    chance it proves nothing (a spiral's classes share one mean).

    Example:
        >>> from types import SimpleNamespace
        >>> x = np.repeat(np.eye(3), 20, axis=0)
        >>> recipe = SimpleNamespace(split=lambda: ((x, x.argmax(1)), None))
        >>> input_signal(recipe)
        (1.0, 0.3333333333333333, 30)
    """
    try:
        x, y = recipe.split()[0]
        x = np.asarray(x, dtype=np.float64)[:limit]
        y = np.asarray(y)[:limit]
        labels = y.argmax(-1) if y.ndim >= 2 and y.shape[-1] > 1 else y.reshape(len(y), -1)[:, 0]
        labels = np.round(labels.astype(np.float64)).astype(np.int64)
    except Exception:
        return None
    if x.ndim < 2 or len(x) < 20 or len(x) != len(labels) or not np.all(np.isfinite(x)):
        return None
    x = x.reshape(len(x), -1)
    fit, held = slice(0, None, 2), slice(1, None, 2)
    x = (x - x[fit].mean(0)) / (x[fit].std(0) + 1e-8)
    classes = np.unique(labels[fit])
    if len(classes) < 2 or len(classes) > len(x) // 4:
        return None
    means = np.stack([x[fit][labels[fit] == c].mean(0) for c in classes])
    # squared distances without a (samples, classes, features) array
    dist = (means ** 2).sum(1)[None, :] - 2.0 * x[held] @ means.T
    accuracy = float((classes[dist.argmin(1)] == labels[held]).mean())
    _, counts = np.unique(labels[held], return_counts=True)
    return accuracy, float(counts.max() / counts.sum()), int(counts.sum())


def signal_in_inputs(recipe: Any) -> bool:
    """Whether :func:`input_signal` beats the majority share by three standard errors."""
    found = input_signal(recipe)
    if found is None:
        return False
    accuracy, chance, held = found
    return accuracy > chance + 3.0 * math.sqrt(chance * (1.0 - chance) / held)


def chance_accuracy(run: Run, recipe: Any) -> float | None:
    """The accuracy of guessing: 1/C, or the majority class's share when the recipe is known."""
    if not run.n_classes or run.n_classes < 2:
        return None
    chance = 1.0 / run.n_classes
    share = majority_share(recipe) if recipe is not None else None
    return max(chance, share) if share is not None else chance  # imbalanced labels


def labels_chance(run: Run, recipe: Any) -> float | None:
    """:func:`chance_accuracy`, or the labels' majority share when the run does not know its
    class count (a custom loss): the chance level of rules that read the recipe's labels."""
    chance = chance_accuracy(run, recipe)
    if chance is None and recipe is not None:
        chance = majority_share(recipe)
    return chance


def is_output(run: Run, act: Any) -> bool:
    """Whether the activation trace ``act`` is the model's output activation."""
    acts = run.activations.list()
    return bool(acts) and act is acts[-1] and act.activation == run.output_activation and (
        not run.layers.list() or act.name == run.layers.last.name
    )


def tail_median(values: Any) -> float:
    """The median of the last tenth (at least one value) of ``values``."""
    values = np.asarray(values, dtype=np.float64)
    return float(np.median(values[-max(1, len(values) // 10):]))


@dataclass
class Context:
    """What a rule reads: the run, its recipe, the thresholds, the shared measurements and the
    findings of the rules before it (``harm``: one of them showed the loss or accuracy hurt)."""

    run: Run
    recipe: Any
    thresholds: Thresholds
    curve: Curve | None
    layers: list[Any]
    found: list[Finding] = field(default_factory=list)
    harm: bool = False

    @classmethod
    def of(cls, run: Run, recipe: Any, thresholds: Thresholds) -> Context:
        return cls(run, recipe, thresholds, Curve.of(run) if run.finite else None,
                   [lt for lt in run.layers.list() if len(lt.grad_norm)])

    def has(self, symptom: Symptom) -> bool:
        """Whether an earlier rule already reported ``symptom``."""
        return any(f.symptom is symptom for f in self.found)

    @property
    def chance_loss(self) -> float | None:
        """-log(1/C) for a cross-entropy classifier, else None."""
        return self.run.chance_loss if is_crossentropy(self.run) else None


#: Keras 3's default learning rate of each optimizer: the centre of its usual range.
DEFAULT_LR = DEFAULT_LEARNING_RATE


def optimizer_and_rate(recipe: Any) -> tuple[str | None, float | None]:
    """The recipe's optimizer name (lower case) and learning rate, where they can be read."""
    if recipe is None:
        return None, None
    opt = recipe.optimizer
    rate = recipe.learning_rate
    if isinstance(opt, str):
        name = opt.lower()
    elif isinstance(opt, dict):
        name = str(opt.get("name", "")).lower() or None
        if rate is None and isinstance(opt.get("learning_rate"), (int, float)):
            rate = float(opt["learning_rate"])
    elif opt is not None:
        name = type(opt).__name__.lower()
        if rate is None:
            try:
                rate = float(opt.learning_rate)
            except Exception:
                rate = None
    else:
        name = None
    if rate is None and name in DEFAULT_LR:
        rate = DEFAULT_LR[name]
    return name, rate


def rate_above_usual(recipe: Any, factor: float = 10.0) -> float | None:
    """How many times the recipe's learning rate exceeds ``factor`` x its optimizer's Keras
    default (the top of the usual range), or None when it does not (or cannot be read)."""
    name, rate = optimizer_and_rate(recipe)
    if name not in DEFAULT_LR or rate is None:
        return None
    top = factor * DEFAULT_LR[name]
    return rate / top if rate > top else None


def accuracy_learned(ctx: Context, chance: float | None = None) -> bool:
    """Whether the recorded accuracy shows the model learned: its median over the last window
    got at least half of the way from chance to 1, i.e. the model gets right more than half of
    what guessing gets wrong.

    The loss's own scale says little across losses: a hinge or a squared error on probabilities
    falls a few percent while the accuracy goes from chance to 0.65 (the loss sweep of the
    curriculum, ``examples/sweeps.py``), so the loss-shape rules defer to an accuracy that shows
    learning.  ``chance`` replaces the run's own chance level when given.
    """
    acc = accuracy_of(ctx.run)
    chance = chance if chance is not None else chance_accuracy(ctx.run, ctx.recipe)
    if acc is None or chance is None or ctx.curve is None or len(acc[1]) < ctx.curve.window:
        return False
    final = float(np.median(acc[1][-ctx.curve.window:]))
    return final >= chance + 0.5 * (1.0 - chance)


def units_died(ctx: Context) -> bool:
    """Whether ReLU units alive at the first step are dead (on the whole batch) at the end: at
    least ``dead_fraction`` of a layer, up from below it (AUTOTRAINER's "dying ReLU", whose
    usual cause during training is a step too large)."""
    t = ctx.thresholds
    for a in ctx.run.activations.of_kind(ActivationKind.RELU):
        dead = np.asarray(a.dead, dtype=np.float64)
        if len(dead) and dead[0] < t.dead_fraction <= tail_median(dead):
            return True
    return False


def may_raise_rate(ctx: Context) -> bool:
    """Whether "raise the learning rate" agrees with the measurements: no layer's updates are
    large, the loss does not oscillate or diverge, the rate is not above its usual range
    (``lr_usual_factor`` x the optimizer's default), and no ReLU units died during training
    (their zero updates come from steps that were too large: the curriculum's learning-rate
    sweep at 0.1 ends with every unit dead and updates of 0)."""
    from trainspec.doctor.symptoms import Symptom as S

    if any(ctx.has(s) for s in (S.OSCILLATING_LOSS, S.DIVERGING_LOSS, S.LEARNING_RATE_TOO_HIGH,
                                S.NON_FINITE, S.EXPLODING_GRADIENT)):
        return False
    if units_died(ctx):
        return False
    if rate_above_usual(ctx.recipe, factor=ctx.thresholds.lr_usual_factor) is not None:
        return False
    high = ctx.thresholds.update_ratio_high
    return not any(float(np.median(np.asarray(lt.update_ratio, dtype=np.float64)[1:] if
                                   len(lt.update_ratio) > 1 else [0.0])) > high
                   for lt in ctx.layers)
