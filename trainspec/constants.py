"""Names and defaults shared across trainspec; no logic lives here."""

from __future__ import annotations

from enum import Enum

#: Version of the ``--trainspec-json`` document; bump on any incompatible change.
JSON_SCHEMA_VERSION = 1
JSON_SCHEMA_NAME = "trainspec-results"

#: Steps between progress/validation chunks when nothing else asks for a size.
DEFAULT_CHUNK_STEPS = 500

#: Number of buckets in the weight/gradient histograms recorded at a few steps.
HISTOGRAM_BINS = 30
#: How many steps of a run get weight/gradient histograms (evenly spaced, first and last included).
HISTOGRAM_SNAPSHOTS = 5

#: A sigmoid unit counts as saturated when |pre-activation| exceeds this: sigma'(5) is 2.7% of
#: its maximum slope.  tanh(z) = 2*sigmoid(2z) - 1, so the same slope ratio is |z| > 2.5 for tanh.
SIGMOID_SATURATION_Z = 5.0
TANH_SATURATION_Z = 2.5

#: Width of the sparklines in failure messages and the report.
SPARKLINE_WIDTH = 40


class Variant(str, Enum):
    """Which side of a broken/fixed pair a run belongs to."""

    BROKEN = "broken"
    FIXED = "fixed"

    def __str__(self) -> str:
        return self.value


class Verdict(str, Enum):
    """What a spec did to a broken/fixed pair.

    ``caught``: the broken model fails and the fixed model passes (what we want);
    ``missed``: the broken model passes; ``false_alarm``: the fixed model fails;
    ``error``: a variant could not be run or the spec raised something other than an assertion;
    ``incomplete``: only one variant ran (the other was deselected or skipped).
    """

    CAUGHT = "caught"
    MISSED = "missed"
    FALSE_ALARM = "false_alarm"
    ERROR = "error"
    INCOMPLETE = "incomplete"

    def __str__(self) -> str:
        return self.value


class Outcome(str, Enum):
    """What a spec did on one run, independent of what was expected of it."""

    PASSED = "passed"
    FAILED = "failed"
    ERROR = "error"
    SKIPPED = "skipped"

    def __str__(self) -> str:
        return self.value


class MutantStatus(str, Enum):
    """What a spec did to a mutant of a fixed recipe (``--trainspec-mutate``)."""

    KILLED = "killed"  # the spec failed (or crashed) on the mutant
    SURVIVED = "survived"  # the spec passed on the mutant
    EQUIVALENT = "equivalent"  # the mutant recorded the original's loss exactly: not counted
    NOT_APPLICABLE = "not_applicable"  # the operator has nothing to change in this recipe
    ERROR = "error"  # the mutant could not be trained

    def __str__(self) -> str:
        return self.value


class ActivationKind(str, Enum):
    """Families of activation functions, grouped by the failure they are prone to."""

    RELU = "relu"  # zero slope for z < 0: units can die
    LEAKY = "leaky"  # non-zero slope for z < 0 (LeakyReLU, PReLU, ELU, SELU, GELU, swish)
    SIGMOID = "sigmoid"  # saturates on both sides
    TANH = "tanh"  # saturates on both sides
    SOFTMAX = "softmax"  # normalises the last axis into probabilities
    OTHER = "other"

    def __str__(self) -> str:
        return self.value


#: Keras 3's default learning rate of each optimizer (the centre of its usual range): the
#: doctor's learning-rate rule and the ``lr_default`` repair read it.
DEFAULT_LEARNING_RATE = {
    "sgd": 0.01, "adam": 0.001, "adamw": 0.001, "rmsprop": 0.001, "adagrad": 0.001,
    "adadelta": 0.001, "adamax": 0.001, "nadam": 0.001, "ftrl": 0.001, "lion": 0.001,
    "lamb": 0.001, "adafactor": 0.001,
}
