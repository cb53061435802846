"""The doctor's rules, one module per symptom family, each a small class in ruff's shape
(:class:`~trainspec.doctor.rules.base.Rule`: what it does, why it is bad, its evidence, its
threshold with the source, its fix).

``RULES`` is the order they run in: a rule may read what the rules before it found (the
update-ratio rule waits for harm to the loss, the slow-convergence rule defers to
loss-not-decreasing).

Example:
    >>> from trainspec.doctor.rules import RULES
    >>> RULES[0].name
    'non_finite'
"""

from __future__ import annotations

from trainspec.doctor.rules.activations import DeadUnits, SaturatedUnits
from trainspec.doctor.rules.base import Rule
from trainspec.doctor.rules.centring import OffCentreActivations
from trainspec.doctor.rules.chance import AccuracyAtChance
from trainspec.doctor.rules.collapse import CollapsedRepresentations
from trainspec.doctor.rules.conditioning import IllConditioned
from trainspec.doctor.rules.diverging import DivergingLoss
from trainspec.doctor.rules.exploding import ExplodingGrowth, ExplodingRatio
from trainspec.doctor.rules.initial_loss import BadInitialLoss
from trainspec.doctor.rules.initialisation import ShrinkingActivations
from trainspec.doctor.rules.learning_rate import LearningRateTooHigh
from trainspec.doctor.rules.logits_floor import LogitsFloor
from trainspec.doctor.rules.non_finite import NonFinite
from trainspec.doctor.rules.oscillating import OscillatingLoss
from trainspec.doctor.rules.overfitting import GeneralisationGap, Overfitting
from trainspec.doctor.rules.signal import NegativeCrossEntropy, NoLearnableSignal
from trainspec.doctor.rules.stalled import LossNotDecreasing, SlowConvergence
from trainspec.doctor.rules.unchanged import UnchangedWeights
from trainspec.doctor.rules.update_ratio import UpdateRatio
from trainspec.doctor.rules.vanishing import VanishingGradient

#: Every dynamic rule, in the order they run.
RULES: tuple[Rule, ...] = (
    NonFinite(), DivergingLoss(), ExplodingGrowth(), BadInitialLoss(), OscillatingLoss(),
    LossNotDecreasing(), SlowConvergence(), AccuracyAtChance(), LogitsFloor(), Overfitting(),
    GeneralisationGap(),
    VanishingGradient(), ExplodingRatio(), UnchangedWeights(), DeadUnits(), SaturatedUnits(),
    LearningRateTooHigh(), ShrinkingActivations(), OffCentreActivations(),
    CollapsedRepresentations(), UpdateRatio(),
    NegativeCrossEntropy(),
    NoLearnableSignal(), IllConditioned(),
)

__all__ = ["RULES", "Rule"]
