"""General specs: what every healthy training run does, applied to each pair whose bug breaks it.

A spec is applied to a pair only where the course names its symptom for that bug; the fixed
model of every pair it is applied to must pass it (``pytest specs/`` fails otherwise), and the
broken one must fail it.
"""

import examples
import trainspec
from examples import (
    bad_init,
    batchnorm,
    dying_relu,
    exploding,
    high_learning_rate,
    initialisation,
    input_noise,
    sigmoid_vanishing,
    softmax_logits,
    vanishing,
    wrong_loss,
)

LEARNING = [high_learning_rate.pair, sigmoid_vanishing.pair, bad_init.pair, input_noise.pair,
            softmax_logits.pair, vanishing.pair, exploding.pair, batchnorm.pair, wrong_loss.pair]


@trainspec.applies_to(LEARNING)
def test_loss_halves(run):
    # A healthy model halves its loss within the run on these sets: every fixed model here
    # measures a relative decrease of 0.75-0.95 in 200 steps, a broken one at most 0.2 (or
    # diverges).  0.5 sits between them with room for seed noise.
    trainspec.expect(run).loss_to_fall_by(0.5)


@trainspec.applies_to(exploding.pairs)
def test_stays_finite(run):
    # Divergence to Inf/NaN is never a healthy run's behaviour: no threshold to choose.
    trainspec.expect(run).to_be_finite()


@trainspec.applies_to(sigmoid_vanishing.pair, bad_init.pair, vanishing.pair, batchnorm.pair)
def test_gradients_reach_first_layer(run):
    # With ReLU and a fitting init the first layer's gradient is the same order as the last
    # layer's (measured ratio 0.2-2); sigmoid stacks leave 1e-3 (5 layers) to 1e-6 (10 layers),
    # dead or saturated first layers exactly 0.  A ratio of 1e-2 (100x weaker) separates them.
    trainspec.expect(run).gradients_to_reach_first_layer(min_ratio=1e-2)


@trainspec.applies_to(high_learning_rate.pair, bad_init.pair, *dying_relu.pairs)
def test_no_dead_units(run):
    # "In some cases half of your network's neurons are dead" (the course's notebook on problems
    # of neural networks): more than half of a ReLU layer dead on a whole batch is the symptom.
    # Healthy ReLU layers here end with 5-30% of units inactive on a 32-image batch, broken ones
    # with 80-100%.
    trainspec.expect(run).no_dead_units(max_fraction=0.5)


@trainspec.applies_to(high_learning_rate.pair, sigmoid_vanishing.pair, bad_init.pair,
                      vanishing.pair, initialisation.pair, batchnorm.pair, wrong_loss.pair)
def test_accuracy_above_chance(run):
    # Training accuracy (median of the last 20 batches) must beat a uniform guess (1/classes)
    # by 0.1: a model that learned nothing sits at chance, every fixed model here is far above.
    trainspec.expect(run).accuracy_above_chance(margin=0.1)


def test_curriculum_has_every_pair():
    # The package lists every pair module's pairs: a new module must be added to PAIRS.
    names = [p.name for p in examples.PAIRS]
    assert len(names) == len(set(names))
    assert {"high_learning_rate", "sigmoid_vanishing", "bad_init", "input_noise",
            "softmax_logits", "regularisation_l2", "regularisation_l1", "regularisation_dropout",
            "transfer_learning", "transfer_learning_fine_tuned", "momentum", "wrong_loss",
            "checkpointing"} <= set(names)
    # the course's Fail exercise keeps its names, shown beside the pairs' in the report
    assert [p.alias for p in examples.FAILS] == [f"Fail{i}" for i in range(1, 6)]
