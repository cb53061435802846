"""A wrong loss for the task: mean squared error on class labels.

The course's MLflow notebook asks to observe the use of various loss functions.  A loss has to
fit the task: for ten classes with a softmax output and labels 0-9 in a column, ``loss="mse"``
compares every one of the ten probabilities with the label's number (Keras broadcasts the
column over the outputs).  Probabilities summing to 1 get closest to "7" (or to "0") by all
being equal, so the model learns the uniform distribution: accuracy stays at chance while the
loss still falls a little.  Fix: ``sparse_categorical_crossentropy``, the loss for integer
class labels (MSE against one-hot labels also learns: a point of the loss sweep).

The specs: training accuracy above chance, and the loss halves.
"""

from __future__ import annotations

import trainspec
from examples import input_noise
from examples._models import DIGITS, DIGITS_VAL

#: The digits with labels as an (n, 1) column, as they often come out of a table.
COLUMN = (DIGITS[0], DIGITS[1].reshape(-1, 1))

fixed = input_noise.fixed.replace(data=COLUMN, validation_data=(DIGITS_VAL[0],
                                                                DIGITS_VAL[1].reshape(-1, 1)),
                                  name="wrong_loss-fixed")
broken = fixed.replace(loss="mse", name="wrong_loss-broken")

pair = trainspec.Pair(
    "wrong_loss", broken=broken, fixed=fixed,
    cause="loss='mse' on class labels 0-9 with a softmax output: each probability is pulled "
    "towards the label's number, the best it can do is uniform, accuracy stays at chance",
    fix="sparse_categorical_crossentropy for integer class labels",
    lesson="the course's MLflow notebook, item 9: the use of various loss functions",
)
