"""The curriculum's broken/fixed pairs (seeds/000-002) and sweeps (seeds/003-004).

One module per pair, each with ``broken`` and ``fixed`` recipes and a ``pair``; modules whose
lesson names several fixes also list them in ``pairs``.  ``PAIRS`` holds every pair in course
order; ``examples.sweeps`` holds the sweeps.  Importing this package does not import TensorFlow.
"""

from examples import (
    bad_init,
    batchnorm,
    dying_relu,
    early_stopping,
    exploding,
    high_learning_rate,
    initialisation,
    input_noise,
    selu,
    sigmoid_vanishing,
    softmax_logits,
    vanishing,
)

#: seeds/000: the five Fail/Solution pairs.
FAILS = [high_learning_rate.pair, sigmoid_vanishing.pair, bad_init.pair, input_noise.pair,
         softmax_logits.pair]
#: seeds/001-002: problems of deep networks and their fixes.
DEEP = [vanishing.pair, *exploding.pairs, *dying_relu.pairs, initialisation.pair, selu.pair,
        batchnorm.pair, early_stopping.pair]
PAIRS = FAILS + DEEP

__all__ = ["PAIRS", "FAILS", "DEEP"]
