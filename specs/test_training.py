"""Specs every model in the curriculum should meet."""

import trainspec
from examples import high_learning_rate, sigmoid_vanishing

PAIRS = [high_learning_rate.pair, sigmoid_vanishing.pair]


@trainspec.applies_to(PAIRS)
def test_loss_halves(run):
    # Halving the loss in 300 steps is easy for a healthy model on these separable blobs.
    assert run.loss.relative_decrease() >= 0.5


@trainspec.applies_to(PAIRS)
def test_gradients_reach_first_layer(run):
    trainspec.expect(run).to_be_finite().gradients_to_reach_first_layer(min_ratio=1e-2)
