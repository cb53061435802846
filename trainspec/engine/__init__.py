"""The engine: a ``Recipe`` in, a ``Run`` out, every probe recorded inside one traced loop.

A run passes through these modules, in order:

- ``api``: ``train(recipe)``, ``trained_weights(recipe)`` and ``fingerprint(recipe)``, the
  entry points.
- ``memo``: runs already trained in this process (then the disk cache, then training).
- ``prepare``: seed, build the model, resolve loss/optimizer/metrics, check eagerly on two
  samples, find the probed layers (``probes``); ``structure`` matches several inputs and
  outputs to the arrays, losses and metrics; ``identify`` fingerprints the result
  (hashing in ``fingerprint``, of user code in ``codehash``); ``prepared`` is the dataclass
  handed on.
- ``graphs``: whether a traced loop of an earlier recipe can be shared, and handing it over.
- ``execute``: the loop called chunk by chunk, validation, callbacks, progress.
- ``loop`` and ``step``: the traced loop (batch, step, probe recording, histograms) and
  evaluation; ``schedule`` says which samples each step reads and when histograms are taken.
- ``assemble``: the loop's arrays to a ``Run``.

Importing this package imports TensorFlow.

Example:
    >>> from trainspec.engine import train               # doctest: +SKIP
    >>> train(recipe).steps_recorded
    200
"""

from __future__ import annotations

import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")  # keep TensorFlow's C++ chatter out of pytest

from trainspec.constants import ActivationKind  # noqa: E402
from trainspec.engine.api import fingerprint, train, trained_weights  # noqa: E402
from trainspec.engine.graphs import clear_graphs  # noqa: E402
from trainspec.engine.loop import trace_count  # noqa: E402
from trainspec.engine.memo import clear_memo  # noqa: E402

__all__ = ["train", "trained_weights", "fingerprint", "clear_memo", "clear_graphs", "trace_count",
           "ActivationKind"]
