"""Regularisation before and after: L2, L1 and dropout on a network that overfits.

The course's MLflow notebook asks to observe results before and after l1, l2 and dropout, and
its training notes name the risk: "risk of overfitting (dropout or regularization)".  The
broken model has two 256-unit layers trained with Adam (learning rate 0.001) for 300 steps on
only 256 images.  It memorises them: the training loss ends near 0.002 while the validation
loss, after its minimum around step 80, climbs again (15% above it at the end).  Each fix
keeps the model, data and budget and adds one regulariser: an L2 penalty of 1e-3 on the hidden
kernels, an L1 penalty of 1e-4, or dropout of 0.5 after each hidden layer.

The specs (``specs/test_phenomena.py``) look at validation, not only at the training loss: the
validation loss must end within 10% of its best (no climb after the minimum), and the
validation loss must stay within 20 times the training loss (the memorising model's is 400
times it; the regularised ones' 2-10 times).
"""

from __future__ import annotations

import trainspec
from examples._models import DIGITS, DIGITS_VAL, dense_net

_WIDE = dict(units=256, depth=2)
broken = trainspec.Recipe(
    model=dense_net("wide_2x256", **_WIDE), data=(DIGITS[0][:256], DIGITS[1][:256]),
    validation_data=DIGITS_VAL, loss="sparse_categorical_crossentropy", optimizer="adam",
    learning_rate=0.001, steps=300, batch_size=32, eval_every=20, metrics=["accuracy"], seed=0,
    name="regularisation-broken",
)

l2 = broken.replace(model=dense_net("wide_2x256_l2", **_WIDE, regularizer=("l2", 1e-3)),
                    name="regularisation-l2")
l1 = broken.replace(model=dense_net("wide_2x256_l1", **_WIDE, regularizer=("l1", 1e-4)),
                    name="regularisation-l1")
dropout = broken.replace(model=dense_net("wide_2x256_dropout", **_WIDE, dropout=0.5),
                         name="regularisation-dropout")
fixed = l2

_CAUSE = ("2 x 256 units trained 300 steps on 256 images with no regularisation: it memorises "
          "them and the validation loss climbs after its minimum")
_LESSON = "the course's MLflow notebook, item 10: before and after l1, l2 and dropout"

pair = trainspec.Pair("regularisation_l2", broken=broken, fixed=l2, cause=_CAUSE,
                      fix="L2 penalty 1e-3 on every hidden kernel", lesson=_LESSON)
l1_pair = trainspec.Pair("regularisation_l1", broken=broken, fixed=l1, cause=_CAUSE,
                         fix="L1 penalty 1e-4 on every hidden kernel", lesson=_LESSON)
dropout_pair = trainspec.Pair("regularisation_dropout", broken=broken, fixed=dropout, cause=_CAUSE,
                              fix="Dropout(0.5) after every hidden layer", lesson=_LESSON)
pairs = [pair, l1_pair, dropout_pair]
