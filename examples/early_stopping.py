"""Early stopping and checkpointing as recipe callbacks (the course's training notes and its MLflow notebook).

A wide network trained far too long on 256 images memorises them: the training loss goes on
falling while the validation loss climbs, and the model you are left with is the overfitted
last one.  Fix: ``EarlyStopping(patience=..., restore_best_weights=True)`` stops when the
validation loss has not improved for a while and restores the best weights, and
``ModelCheckpoint(save_best_only=True)`` keeps the best model on disk (in a temporary folder,
never in the repository).  Callbacks see one "epoch" per ``eval_every`` steps.

The recipes are built by functions (Pair accepts them): Keras callbacks are Keras objects,
and importing Keras while pytest collects would import TensorFlow.
"""

from __future__ import annotations

import atexit
import shutil
import tempfile
from pathlib import Path

import trainspec
from examples._models import DIGITS, DIGITS_VAL, dense_net

TRAIN = (DIGITS[0][:256], DIGITS[1][:256])
_checkpoints: list[Path] = []


def checkpoint_dir() -> Path:
    """A temporary folder for this process's checkpoints, removed at exit."""
    if not _checkpoints:
        path = Path(tempfile.mkdtemp(prefix="trainspec-checkpoints-"))
        atexit.register(shutil.rmtree, path, ignore_errors=True)
        _checkpoints.append(path)
    return _checkpoints[0]


def _base() -> trainspec.Recipe:
    return trainspec.Recipe(
        model=dense_net("wide_2x256", units=256, depth=2), data=TRAIN, validation_data=DIGITS_VAL,
        loss="sparse_categorical_crossentropy", optimizer="adam", learning_rate=0.003, steps=300,
        batch_size=32, eval_every=20, metrics=["accuracy"], seed=0,
    )


def make_broken() -> trainspec.Recipe:
    """Trains all 300 steps and keeps the last (overfitted) weights."""
    return _base().replace(name="early_stopping-broken")


def make_fixed() -> trainspec.Recipe:
    """Stops once validation loss has not improved for 3 evaluations, restores the best
    weights, and checkpoints the best model."""
    import keras

    return _base().replace(
        name="early_stopping-fixed",
        callbacks=[
            keras.callbacks.EarlyStopping(monitor="val_loss", patience=3,
                                          restore_best_weights=True),
            keras.callbacks.ModelCheckpoint(str(checkpoint_dir() / "best.keras"),
                                            monitor="val_loss", save_best_only=True),
        ],
    )


#: The broken recipe has no callbacks, so it can be built at import time; the fixed one is
#: a function returning the recipe (its callbacks are Keras objects).
broken = make_broken()
fixed = make_fixed

pair = trainspec.Pair(
    "early_stopping", broken=broken, fixed=fixed,
    cause="300 steps on 256 images with no early stopping: the model overfits, validation loss "
    "climbs and the final weights are the overfitted ones",
    fix="EarlyStopping(patience=3, restore_best_weights=True) + ModelCheckpoint(save_best_only)",
    lesson="the course's training notes and MLflow notebook: early stopping and checkpointing",
)
