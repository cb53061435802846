"""Transfer learning before and after: reuse a network trained on a related task.

The course's MLflow notebook asks to observe results before and after transfer learning, and
its training notes say a network "requires lot of data to train (transfer learning or data
augmentation)".  The target task here is a new one with little data: tell odd digits from
even ones, from 50 labelled images.  Trained from scratch on them (broken), a 784-128-64
network memorises the 50 and generalises poorly.  The source task is the ten-class digit
problem with 2048 images: a network pretrained on it (with Keras' ``fit``, seeded, in this
process: nothing is downloaded) has layers that tell the digits apart.  The fix reuses those
two layers, frozen, under a new two-class head: only the head trains.  Measured: from scratch
the validation accuracy stops at 0.72 after 20 steps; with the frozen pretrained layers it
passes 0.75 by step 40 and ends at 0.84.  (Fine-tuning every layer from the pretrained weights
on these 50 images ends at 0.73-0.74, no better than scratch: it memorises them too.)

The specs (``specs/test_phenomena.py``): the validation accuracy reaches 0.75 within the first
60 steps (fewer steps to the same accuracy) and ends at 0.8 or more (a higher final
accuracy).  The pretrained weights are part of each recipe's initial weights, hence of its
fingerprint: the runs are cached like any other, but the pretraining (about 250 steps of
``fit``) runs once per process that builds these recipes.
"""

from __future__ import annotations

import functools
from typing import Any

import numpy as np

import trainspec
from examples._models import DIGITS, DIGITS_VAL
from trainspec import datasets

#: The source task: the curriculum's 2048 training digits, ten classes.
SOURCE = DIGITS


def parity(x: np.ndarray, y: np.ndarray, n: int | None = None) -> tuple[np.ndarray, np.ndarray]:
    """The first ``n`` images labelled 1 for odd digits and 0 for even ones."""
    return x[:n], (y[:n] % 2).astype(np.int32)


#: The target task: odd or even, from 50 labelled images (other digits than the source's).
TARGET_TRAIN = parity(*datasets.digits(n=50, seed=7))
TARGET_VAL = parity(*DIGITS_VAL)
_FEATURES = (("features_1", 128), ("features_2", 64))


def _network(name: str, classes: int = 2) -> Any:
    import keras

    layers: list[Any] = [keras.Input((28, 28)), keras.layers.Flatten(name="flatten")]
    layers += [keras.layers.Dense(units, activation="relu", name=layer) for layer, units in _FEATURES]
    layers.append(keras.layers.Dense(classes, activation="softmax", name="head"))
    return keras.Sequential(layers, name=name)


@functools.cache
def pretrained_features() -> tuple[np.ndarray, ...]:
    """The two feature layers' weights after training on the source task (ten digits).

    Keras' ``fit`` with a fixed seed, no shuffling and deterministic ops: the same weights in
    every process, so the recipes built on them have the same fingerprint everywhere.
    """
    import keras
    import tensorflow as tf

    keras.utils.set_random_seed(0)
    tf.config.experimental.enable_op_determinism()
    model = _network("source_digits", classes=10)
    model.compile(optimizer=keras.optimizers.Adam(0.003), loss="sparse_categorical_crossentropy")
    model.fit(SOURCE[0], SOURCE[1], batch_size=32, epochs=4, shuffle=False, verbose=0)
    weights = [w for layer, _ in _FEATURES for w in model.get_layer(layer).get_weights()]
    keras.backend.clear_session(free_memory=False)
    return tuple(np.asarray(w) for w in weights)


def scratch() -> Any:
    """The target network with random initial weights."""
    return _network("target_from_scratch")


def _pretrained(name: str, trainable: bool) -> Any:
    import keras

    weights = pretrained_features()
    keras.utils.set_random_seed(0)  # the head's initial weights do not depend on the memo
    model = _network(name)
    for i, (layer, _) in enumerate(_FEATURES):
        model.get_layer(layer).set_weights(list(weights[2 * i:2 * i + 2]))
        model.get_layer(layer).trainable = trainable
    return model


def frozen() -> Any:
    """The pretrained feature layers, frozen, under a new head."""
    return _pretrained("target_frozen_features", trainable=False)


broken = trainspec.Recipe(
    model=scratch, data=TARGET_TRAIN, validation_data=TARGET_VAL,
    loss="sparse_categorical_crossentropy", optimizer="adam", learning_rate=0.003, steps=150,
    batch_size=25, eval_every=10, metrics=["accuracy"], seed=0, name="transfer-scratch",
)
fixed = broken.replace(model=frozen, learning_rate=0.03, name="transfer-frozen")

_CAUSE = ("trained from scratch on the 50 images of the target task (odd or even): it "
          "memorises them and generalises poorly")
_LESSON = "the course's MLflow notebook, item 6: before and after transfer learning"

pair = trainspec.Pair(
    "transfer_learning", broken=broken, fixed=fixed, cause=_CAUSE,
    fix="reuse the two layers pretrained on the ten-digit task, frozen, under a new head "
    "(learning rate 0.03 for the head)",
    lesson=_LESSON)
