"""Every number the doctor compares against (:class:`Thresholds`), and where they come from.

Defaults are published heuristics, cited beside each field; a project changes them in
``[tool.trainspec.doctor]`` of ``pyproject.toml`` or with the ``trainspec_doctor`` ini lines
(:func:`configure`, :func:`parse_lines`), a call with keyword overrides
(``trainspec.diagnose(run, dead_fraction=0.9)``).

Example:
    >>> from trainspec.doctor import parse_lines
    >>> parse_lines(["dead_fraction = 0.9", "# a comment"])
    {'dead_fraction': 0.9}
"""

from __future__ import annotations

import sys
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field


class Thresholds(BaseModel):
    """Every number the doctor compares against, with the source of its default.

    Example:
        >>> from trainspec.doctor import Thresholds
        >>> Thresholds(dead_fraction=0.9).dead_fraction
        0.9
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    # AUTOTRAINER (Zhang et al., ICSE 2021), "vanishing gradient": the first layer's gradient
    # norm over the last layer's <= 1e-3 while the first layer's norm is <= 1e-4.
    vanishing_ratio: float = Field(1e-3, gt=0)
    vanishing_first_norm: float = Field(1e-4, gt=0)
    # AUTOTRAINER, "exploding gradient": first/last gradient-norm ratio >= 70, or NaN; we also
    # apply the factor to one layer's growth over the run.
    exploding_ratio: float = Field(70.0, gt=1)
    # AUTOTRAINER, "dying ReLU": >= 70% of a ReLU layer's units inactive on a batch.
    dead_fraction: float = Field(0.7, gt=0, le=1)
    # AUTOTRAINER / DeepDiagnosis (Wardat et al., ICSE 2022), "saturated activation": > 50% of
    # sigmoid/tanh units in the flat tails (|z| > 5 for sigmoid, the same slope for tanh).
    saturated_fraction: float = Field(0.5, gt=0, le=1)
    # CS231n (Karpathy), "ratio of weights:updates": about 1e-3; log10 outside [-4, -1] is
    # suspect.  Reported when the loss shows harm, or when 100x past a bound (`mechanism_margin`).
    update_ratio_low: float = Field(1e-4, gt=0)
    update_ratio_high: float = Field(1e-1, gt=0)
    mechanism_margin: float = Field(100.0, ge=1)
    # Karpathy, "A Recipe for Training Neural Networks" (2019): verify the loss at init is about
    # -log(1/C).  Glorot/He-initialised nets land within a factor of ~2; we flag beyond 3.
    initial_loss_factor: float = Field(3.0, gt=1)
    # DeepDiagnosis / AUTOTRAINER "loss not decreasing / not converging": the loss (median of
    # the last tenth of the run) fell by less than this fraction of its start.
    min_decrease: float = Field(0.1, ge=0, lt=1)
    # DeepDiagnosis "slow convergence": fell by less than this, still falling steadily at the end
    # (the second half fell at least `slow_steadiness` times as much as the first).
    slow_decrease: float = Field(0.3, gt=0, lt=1)
    slow_steadiness: float = Field(0.5, gt=0)
    # AUTOTRAINER "unstable/oscillating loss": in the second half the loss swings with a
    # coefficient of variation above this while it has not reached half of its start, and the
    # second half is not still falling (slope within two standard errors of flat: sampling noise
    # around a falling loss is not oscillation).
    oscillation_cv: float = Field(0.25, gt=0)
    # Divergence: the end of the run is this fraction above its start, or the loss gave back
    # more than `diverge_rebound` of the progress it had made (AUTOTRAINER "exploding loss").
    diverge_rise: float = Field(0.5, gt=0)
    diverge_rebound: float = Field(0.5, gt=0, le=1)
    # Accuracy within this margin of chance (a fraction of 1 - chance) counts as chance.
    chance_margin: float = Field(0.1, ge=0, lt=1)
    # Softmax outputs used as logits bound cross-entropy below by log(1 + (C-1)/e); a loss
    # within this relative tolerance of the floor with accuracy far above chance shows it.
    floor_tolerance: float = Field(0.05, ge=0)
    # Prechelt, "Early Stopping - But When?" (1998): generalisation loss GL = val/best_val - 1;
    # the final model is overfitted when GL exceeds this (Prechelt's criteria stop at 0.01-0.05;
    # 0.1 is still twice his largest).  Was 0.2 until issue 12: the curriculum's unregularised
    # 2 x 256 net ends 15% above its best validation loss (GL 0.148) while its three
    # regularised fixes end within 0.074, and 0.2 missed it.
    overfit_rise: float = Field(0.1, gt=0)
    # Goodfellow et al., Deep Learning (2016), 5.2 and 7: overfitting is a large gap between
    # training and test error.  Flag when this share of the accuracy learned on the training set
    # (training accuracy minus chance) is lost on validation (curriculum: healthy <= 0.07, a
    # network trained from scratch on 50 images 0.58).
    generalisation_gap: float = Field(0.25, gt=0, le=1)
    # LeCun et al., "Efficient BackProp" (1998), 4.3/5: features of different scales stretch
    # the Hessian's eigenvalues by the squared ratio; with plain SGD a run still crawling at the
    # end over features this many times apart in scale (curvatures 25x apart) is in a ravine.
    feature_scale_ratio: float = Field(5.0, gt=1)
    # Srivastava et al., JMLR 2014 ("Dropout"): retain probability 0.5 for hidden units, 0.8
    # for inputs; a drop rate above 0.5 starves the network.
    max_dropout: float = Field(0.5, gt=0, le=1)
    # LeCun et al., "Efficient BackProp" (1998): inputs should be centred with unit variance;
    # flag when the 99th percentile of |x| exceeds this.
    max_input_abs: float = Field(10.0, gt=1)

    # Bengio (2012), Kingma & Ba (2015): the usual range of a learning rate tops out at this
    # factor times the optimizer's Keras default.
    lr_usual_factor: float = Field(10.0, gt=1)
    # He et al., "Delving Deep into Rectifiers" (ICCV 2015) / Glorot & Bengio (AISTATS 2010): a
    # good initialisation keeps the activations' scale through depth; flag when the last hidden
    # layer's std at the first step is below this fraction of the first hidden layer's.
    shrink_ratio: float = Field(0.1, gt=0, lt=1)
    # Schoenholz et al. (ICLR 2017), Daneshmand et al. (NeurIPS 2020): through a deep stack the
    # inputs' representations grow alike; flag a model that did not learn when this share of
    # the inputs' variation lies along one direction at the last hidden layer (ours, measured:
    # see trainspec.doctor.rules.collapse).
    collapse_share: float = Field(0.75, gt=0, lt=1)
    # Zinkevich, "Rules of Machine Learning" (rule 37, training-serving skew): the training and
    # validation inputs should come from one preprocessing; flag when their overall std differs
    # by more than this factor or their means by more than one validation std.
    skew_factor: float = Field(3.0, gt=1)

    def updated(self, **changes: Any) -> Thresholds:
        """A validated copy with some thresholds changed."""
        if not changes:
            return self
        return type(self)(**{**self.model_dump(), **changes})


_PROJECT: dict[str, Any] = {}
_PYPROJECT_CACHE: dict[Path, dict[str, Any]] = {}


def _read_pyproject(start: Path) -> dict[str, Any]:
    for folder in [start, *start.parents]:
        candidate = folder / "pyproject.toml"
        if candidate.is_file():
            if candidate not in _PYPROJECT_CACHE:
                if sys.version_info >= (3, 11):
                    import tomllib
                else:  # pragma: no cover
                    import tomli as tomllib
                with candidate.open("rb") as handle:
                    data = tomllib.load(handle)
                _PYPROJECT_CACHE[candidate] = dict(
                    data.get("tool", {}).get("trainspec", {}).get("doctor", {})
                )
            return _PYPROJECT_CACHE[candidate]
    return {}


def configure(**overrides: Any) -> None:
    """Set project-wide thresholds (the plugin calls this with the ``trainspec_doctor`` ini
    lines); they apply on top of ``pyproject.toml`` and under per-call overrides."""
    Thresholds(**overrides)  # validate now
    _PROJECT.clear()
    _PROJECT.update(overrides)


def project_thresholds(start: Path | None = None) -> Thresholds:
    """Defaults, then ``[tool.trainspec.doctor]`` of the nearest ``pyproject.toml`` above
    ``start`` (the working directory), then :func:`configure`'s overrides."""
    values = dict(_read_pyproject((start or Path.cwd()).resolve()))
    values.update(_PROJECT)
    return Thresholds(**values)


def parse_lines(lines: Iterable[str]) -> dict[str, float]:
    """``["dead_fraction = 0.9", ...]`` (ini lines) as a dict of floats."""
    out: dict[str, float] = {}
    for line in lines:
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        key, sep, value = line.partition("=")
        if not sep:
            raise ValueError(f"trainspec_doctor: expected 'name = value', got {line!r}")
        out[key.strip()] = float(value)
    return out
