"""The curriculum's broken/fixed pairs and sweeps.

The pairs come from the course's Fail exercise (Fail1-Fail5), its training notes, its notebook
on problems of neural networks and its MLflow notebook; the sweeps from its results table and
MLflow notebook.

One module per pair, each with ``broken`` and ``fixed`` recipes and a ``pair``; modules whose
lesson names several fixes also list them in ``pairs``.  ``PAIRS`` holds every pair in course
order; ``examples.sweeps`` holds the sweeps.  Importing this package does not import TensorFlow.
"""

from examples import (
    bad_init,
    batchnorm,
    checkpointing,
    dying_relu,
    early_stopping,
    exploding,
    high_learning_rate,
    initialisation,
    input_noise,
    momentum,
    regularisation,
    selu,
    sigmoid_vanishing,
    softmax_logits,
    transfer_learning,
    vanishing,
    wrong_loss,
)

#: The course's Fail exercise: the five Fail/Solution pairs (Fail1-Fail5).
FAILS = [high_learning_rate.pair, sigmoid_vanishing.pair, bad_init.pair, input_noise.pair,
         softmax_logits.pair]
#: The course's training notes and notebook: problems of deep networks and their fixes.
DEEP = [vanishing.pair, *exploding.pairs, *dying_relu.pairs, initialisation.pair, selu.pair,
        batchnorm.pair, early_stopping.pair]
#: The course's MLflow notebook: regularisation, transfer learning, momentum, losses,
#: checkpointing.
MLFLOW_NOTEBOOK = [*regularisation.pairs, *transfer_learning.pairs, momentum.pair,
                   wrong_loss.pair, checkpointing.pair]
PAIRS = FAILS + DEEP + MLFLOW_NOTEBOOK

__all__ = ["PAIRS", "FAILS", "DEEP", "MLFLOW_NOTEBOOK"]
