"""Hooks the engine calls while training, kept free of TensorFlow so the plugin can subscribe
without importing it."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

#: Called with (recipe, run) after every ``train`` call, trained or memoised.
LISTENERS: list[Callable[[Any, Any], None]] = []
#: Called with (label, steps_done, steps_total) while a run trains.
PROGRESS: list[Callable[[str, int, int], None]] = []
#: Run stores consulted after the in-process memo: objects with ``get(fp)`` and ``put(fp, run)``.
STORES: list[Any] = []
