"""Checkpointing: the model restored from the best checkpoint is the best model seen.

The course's MLflow notebook asks to observe early stopping and checkpointing, and its notes
list "saving checkpoints" among what callbacks do.  A checkpoint is only as good as what it
monitors.  Both recipes train the overfitting network of the early-stopping lesson with
``ModelCheckpoint(save_best_only=True)`` and, at the end of training, load the checkpoint back
into the model (``RestoreCheckpoint``), as you would before deploying it.  The broken one
monitors the training ``loss``: it falls to the end, so the "best" checkpoint is the last,
overfitted model.  The fixed one monitors ``val_loss``.

The spec (``specs/test_phenomena.py``): the validation loss of the restored model (evaluated
after training) equals the lowest validation loss seen during training.  Checkpoints go to a
temporary folder, never the repository; recipes with callbacks are trained every session.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import trainspec
from examples.early_stopping import _base, checkpoint_dir


class RestoreCheckpoint:
    """A Keras callback that loads the weights saved at ``path`` when training ends.

    ``monitor`` names what the checkpoint it restores was chosen by; with the file name it is
    the callback's config, so the two recipes' fingerprints differ (a ``ModelCheckpoint``
    has no config of its own).

    Example:
        >>> RestoreCheckpoint("/tmp/best.weights.h5", "val_loss").get_config()
        {'file': 'best.weights.h5', 'monitor': 'val_loss'}
    """

    def __init__(self, path: str | Path, monitor: str):
        self.path = Path(path)
        self.monitor = monitor
        self.model: Any = None

    def get_config(self) -> dict[str, str]:
        return {"file": self.path.name, "monitor": self.monitor}

    def set_model(self, model: Any) -> None:
        self.model = model

    def set_params(self, params: dict[str, Any]) -> None:
        self.params = params

    def on_train_begin(self, logs: Any = None) -> None:
        self.path.unlink(missing_ok=True)  # never restore a previous run's checkpoint

    def on_epoch_end(self, epoch: int, logs: Any = None) -> None:
        pass

    def on_train_end(self, logs: Any = None) -> None:
        if self.path.exists():
            self.model.load_weights(str(self.path))


def _checkpointed(monitor: str, name: str) -> trainspec.Recipe:
    import keras

    path = checkpoint_dir() / f"{name}.weights.h5"
    return _base().replace(
        steps=200, name=name,
        callbacks=[
            keras.callbacks.ModelCheckpoint(str(path), monitor=monitor, save_best_only=True,
                                            save_weights_only=True),
            RestoreCheckpoint(path, monitor),
        ],
    )


def make_broken() -> trainspec.Recipe:
    """Keeps the checkpoint with the lowest training loss (the last, overfitted model)."""
    return _checkpointed("loss", "checkpointing-broken")


def make_fixed() -> trainspec.Recipe:
    """Keeps the checkpoint with the lowest validation loss."""
    return _checkpointed("val_loss", "checkpointing-fixed")


broken = make_broken
fixed = make_fixed

pair = trainspec.Pair(
    "checkpointing", broken=broken, fixed=fixed,
    cause="ModelCheckpoint(save_best_only=True) monitors the training loss, which falls to the "
    "end: the restored 'best' model is the last, overfitted one",
    fix="ModelCheckpoint(monitor='val_loss', save_best_only=True), restored after training",
    lesson="the course's MLflow notebook, item 7: early stopping and checkpointing",
)
