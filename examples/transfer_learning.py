"""Transfer learning before and after: reuse a network trained on a related task.

The course's MLflow notebook asks to observe results before and after transfer learning, and
its training notes say a network "requires lot of data to train (transfer learning or data
augmentation)".  The target task here is a new one with little data: tell odd digits from
even ones, from 50 labelled images.  Trained from scratch on them (broken, in both pairs), a
784-128-64-10 network with a two-class head memorises the 50 and generalises poorly: its
validation accuracy stops at 0.71.

The source task is the ten-class digit problem with 2048 images.  ``base`` is a trainspec
recipe for it (Adam, 256 steps, 0.97 validation accuracy): it is trained once and kept like
any run, in the memo and the run cache, with its final weights
(:func:`trainspec.trained_weights`), so nothing is downloaded and a session that finds it in the
cache does not train it at all.  The target recipes load those weights in their model
builders: the weights are the target models' initial weights, hence part of their
fingerprints, so changing ``base`` retrains everything built on it (the cache is never stale).

- ``transfer_learning`` (frozen): the base's three layers (its ten digit outputs included),
  frozen, under a new two-class head; only the head trains (Adam at 0.03).  It passes 0.75
  validation accuracy at the first evaluation (step 9) and ends at 0.97.
- ``transfer_learning_fine_tuned``: the next step of the recipe Keras' transfer-learning guide
  gives.  It starts from the frozen run's final weights (the base's layers and the head trained
  on them: that run again, from the memo or the cache), unfreezes every layer and fine-tunes
  them with a small learning rate (Adam at 1e-4, 60 steps); it stays at 0.96-0.97.  Measured:
  fine-tuning the base's layers under a *random* head instead (no frozen stage) ends at
  0.64-0.77 whatever the learning rate, the random head's large gradients wreck the features,
  which is why the head is trained frozen first.

The specs (``specs/test_phenomena.py``), on both pairs: the validation accuracy reaches 0.75
within the first 60 steps (fewer steps to the same accuracy: scratch never reaches it) and ends
at 0.8 or more (a higher final accuracy).
"""

from __future__ import annotations

from typing import Any

import numpy as np

import trainspec
from examples._models import DIGITS, DIGITS_VAL
from trainspec import datasets


def parity(x: np.ndarray, y: np.ndarray, n: int | None = None) -> tuple[np.ndarray, np.ndarray]:
    """The first ``n`` images labelled 1 for odd digits and 0 for even ones."""
    return x[:n], (y[:n] % 2).astype(np.int32)


#: The target task: odd or even, from 50 labelled images (other digits than the source's).
TARGET_TRAIN = parity(*datasets.digits(n=50, seed=7))
TARGET_VAL = parity(*DIGITS_VAL)
#: The layers the source network trains and the target networks reuse.
_BASE_LAYERS = (("features_1", 128, "relu"), ("features_2", 64, "relu"),
                ("digits", 10, "softmax"))


def _network(name: str, head: bool = True) -> Any:
    import keras

    layers: list[Any] = [keras.Input((28, 28)), keras.layers.Flatten(name="flatten")]
    layers += [keras.layers.Dense(units, activation=activation, name=layer)
               for layer, units, activation in _BASE_LAYERS]
    if head:
        layers.append(keras.layers.Dense(2, activation="softmax", name="head"))
    return keras.Sequential(layers, name=name)


def source_network() -> Any:
    """The source task's network: the base layers, ending in the ten digit outputs."""
    return _network("source_digits", head=False)


#: The source task (ten digits, 2048 images): trained once, its final weights kept.
base = trainspec.Recipe(
    model=source_network, data=DIGITS, validation_data=DIGITS_VAL,
    loss="sparse_categorical_crossentropy", optimizer="adam", learning_rate=0.003, steps=256,
    batch_size=32, eval_every=64, metrics=["accuracy"], seed=0, name="transfer-base",
)


def scratch() -> Any:
    """The target network with random initial weights."""
    return _network("target_from_scratch")


def frozen() -> Any:
    """The base's layers, with its trained weights, frozen, under a new two-class head."""
    weights = trainspec.trained_weights(base)
    model = _network("target_frozen_base")
    for i, (layer, _, _) in enumerate(_BASE_LAYERS):
        model.get_layer(layer).set_weights(weights[2 * i:2 * i + 2])
        model.get_layer(layer).trainable = False
    return model


def fine_tuned() -> Any:
    """The frozen run's final weights (base layers and trained head), every layer trainable."""
    model = _network("target_fine_tuned")
    model.set_weights(trainspec.trained_weights(fixed))
    return model


broken = trainspec.Recipe(
    model=scratch, data=TARGET_TRAIN, validation_data=TARGET_VAL,
    loss="sparse_categorical_crossentropy", optimizer="adam", learning_rate=0.003, steps=150,
    batch_size=25, eval_every=10, metrics=["accuracy"], seed=0, name="transfer-scratch",
)
fixed = broken.replace(model=frozen, learning_rate=0.03, name="transfer-frozen")
tuned = broken.replace(model=fine_tuned, learning_rate=1e-4, steps=60,
                       name="transfer-fine-tuned")

_CAUSE = ("trained from scratch on the 50 images of the target task (odd or even): it "
          "memorises them and generalises poorly")
_LESSON = "the course's MLflow notebook, item 6: before and after transfer learning"

pair = trainspec.Pair(
    "transfer_learning", broken=broken, fixed=fixed, cause=_CAUSE,
    fix="reuse the layers of a network trained on the ten-digit task (a cached run), frozen, "
    "under a new head (learning rate 0.03 for the head)",
    lesson=_LESSON)
fine_tuned_pair = trainspec.Pair(
    "transfer_learning_fine_tuned", broken=broken, fixed=tuned, cause=_CAUSE,
    fix="start from the frozen transfer run (base layers and trained head), unfreeze every "
    "layer and fine-tune with a small learning rate (Adam, 1e-4)",
    lesson=_LESSON)
pairs = [pair, fine_tuned_pair]
