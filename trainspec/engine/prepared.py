"""``Prepared``: what the preparation stage hands to the rest of the engine.

Made by ``prepare.prepare(recipe)``; read by the loop, evaluation, graph sharing and assembly.
Holds the built model, the resolved loss, optimizer and metrics, the training and validation
arrays as the graph takes them, the probed layers and the recipe's fingerprint.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from trainspec.engine.probes import ActivationProbe, FrozenProbe, LayerProbe
from trainspec.recipe import Recipe


@dataclass
class Prepared:
    """A recipe made ready to train: every field the traced loop needs.

    Example:
        >>> p = prepare(recipe)                        # doctest: +SKIP
        >>> [lp.name for lp in p.layers], p.loss_name
        (['dense', 'dense_1'], 'sparse_categorical_crossentropy')
    """

    recipe: Recipe
    label: str
    model: Any
    loss_fn: Callable[..., Any] | None
    loss_name: str | None
    optimizer: Any
    metric_fns: list[tuple[str, Callable[..., Any]]]
    train: tuple[np.ndarray, np.ndarray]
    val: tuple[np.ndarray, np.ndarray] | None
    layers: list[LayerProbe]
    acts: list[ActivationProbe]
    probe_model: Any
    output_activation: str | None
    n_classes: int | None
    fingerprint: str = ""
    unreadable: list[str] = field(default_factory=list)  # code the fingerprint cannot cover
    extra: dict[str, Any] = field(default_factory=dict)
    #: frozen layers (weights read before and after the run, not at every step)
    frozen: list[FrozenProbe] = field(default_factory=list)
    #: layers whose activations the probes cannot see (``trainspec.run.UnprobedLayer``)
    unprobed: list[Any] = field(default_factory=list)
