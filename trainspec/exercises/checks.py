"""Specs the shipped exercises use, written as plain pytest functions.

An :class:`~trainspec.exercises.Exercise` copies each function's source into the exercise's
spec file, so a spec here must be self-contained: it may use ``math``, ``numpy as np``,
``pytest`` and ``trainspec`` (the spec file imports them) and its ``run`` argument.  The
thresholds are the curriculum's (``specs/`` in the repository), where they are explained.

This module is not collected by pytest (its name does not start with ``test_``); the functions'
names do, so that in a student's spec file they are specs.
"""

# ruff: noqa: F821  (math, np and pytest are imported by the spec file the source goes into)

import trainspec


def test_loss_halves(run):
    """A healthy model halves its training loss within the run."""
    trainspec.expect(run).loss_to_fall_by(0.5)


def test_accuracy_above_chance(run):
    """Training accuracy beats a uniform guess (1 / classes) by at least 0.1."""
    trainspec.expect(run).accuracy_above_chance(margin=0.1)


def test_gradients_reach_first_layer(run):
    """The first layer's gradient is at least 1/100 of the last layer's."""
    trainspec.expect(run).gradients_to_reach_first_layer(min_ratio=1e-2)


def test_no_dead_units(run):
    """No ReLU layer ends with more than half of its units dead on a whole batch."""
    trainspec.expect(run).no_dead_units(max_fraction=0.5)


def test_stays_finite(run):
    """The loss, gradients and weights stay finite (no Inf/NaN) at every step."""
    trainspec.expect(run).to_be_finite()


def test_updates_stay_smaller_than_weights(run):
    """No update is larger than the weights it changes (update / weight ratio < 1)."""
    for layer in run.layers.list():
        trainspec.expect(layer.update_ratio, run).to_stay_below(1.0)


def test_loss_goes_below_the_double_softmax_floor(run):
    """The loss gets below log(1 + 9/e) ~ 1.46, the floor of a softmax applied twice."""
    floor = math.log(1 + ((run.n_classes or 2) - 1) / math.e)
    trainspec.expect(run.loss, run).to_reach_below(floor)


def test_generalises_to_clean_images(run):
    """Accuracy on the clean held-out digits is at least 0.5 (chance is 0.1)."""
    accuracy = run.val["val_accuracy"]
    assert accuracy >= 0.5, (
        f"accuracy on clean held-out digits: measured {accuracy:.3g}, required >= 0.5"
    )


def test_signal_survives_depth(run):
    """At step 0, the last hidden layer's activation std is at least 1/4 of the first's."""
    hidden = [a for a in run.activations.list() if a.kind != trainspec.ActivationKind.SOFTMAX]
    ratio = hidden[-1].std[0] / hidden[0].std[0]
    assert ratio >= 0.25, (
        f"activation std at the last hidden layer {hidden[-1].name!r}: measured {ratio:.3g} x "
        "the first hidden layer's, required >= 0.25"
    )
