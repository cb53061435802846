"""What the static checks read: a recipe with its model built (:class:`RecipeView`), the base
class of a check (:class:`StaticCheck`) and the layer kinds they reason about.

Example:
    >>> view = RecipeView.of(recipe, Thresholds())           # doctest: +SKIP
    >>> [layer.name for layer in view.leaves]                 # doctest: +SKIP
    ['dense', 'dense_1', 'dense_2']
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, ClassVar

import numpy as np

from trainspec.doctor.rules.base import Documented
from trainspec.doctor.symptoms import Finding, Symptom
from trainspec.doctor.thresholds import Thresholds

#: Layers that apply no non-linearity of their own.
LINEAR_LAYERS = frozenset({
    "InputLayer", "Dense", "EinsumDense", "Conv1D", "Conv2D", "Conv3D", "Conv1DTranspose",
    "Conv2DTranspose", "Conv3DTranspose", "DepthwiseConv2D", "SeparableConv2D", "Flatten",
    "Reshape", "Dropout", "GaussianNoise", "GaussianDropout", "SpatialDropout1D",
    "SpatialDropout2D", "BatchNormalization", "AveragePooling1D", "AveragePooling2D",
    "GlobalAveragePooling1D", "GlobalAveragePooling2D", "ZeroPadding2D", "Cropping2D", "Add",
    "Subtract", "Concatenate", "Rescaling", "Normalization", "Permute", "RepeatVector",
    "Identity", "Activation", "Lambda", "ActivityRegularization",
})
#: Layers with a weight matrix or kernel.
WEIGHTED = frozenset({"Dense", "EinsumDense", "Conv1D", "Conv2D", "Conv3D", "DepthwiseConv2D",
                      "SeparableConv2D", "Conv1DTranspose", "Conv2DTranspose", "Conv3DTranspose"})
#: Layers that rescale the inputs inside the model.
NORMALISING = frozenset({"Rescaling", "Normalization", "BatchNormalization", "LayerNormalization",
                         "GroupNormalization", "UnitNormalization"})
#: First layers that take integer ids, not features.
TAKES_IDS = frozenset({"Embedding", "IntegerLookup", "StringLookup", "CategoryEncoding"})


@dataclass
class RecipeView:
    """A recipe with its model built (None when it cannot be built: training will say why)."""

    recipe: Any
    model: Any
    leaves: list[Any]
    x: np.ndarray
    thresholds: Thresholds

    @classmethod
    def of(cls, recipe: Any, thresholds: Thresholds) -> RecipeView:
        try:
            from trainspec.engine import probes
            from trainspec.engine.prepare import build_model, seed_everything

            seed_everything(recipe.seed)
            model = build_model(recipe)
            leaves = probes.leaf_layers(model)
        except Exception:
            model, leaves = None, []
        return cls(recipe, model, leaves, np.asarray(recipe.data[0]), thresholds)

    @property
    def output_name(self) -> str | None:
        return self.leaves[-1].name if self.leaves else None


class StaticCheck(Documented):
    """A check of the recipe before training; ``check`` returns its findings."""

    name: ClassVar[str]
    symptoms: ClassVar[tuple[Symptom, ...]]
    thresholds: ClassVar[tuple[str, ...]] = ()

    def check(self, view: RecipeView) -> list[Finding]:  # pragma: no cover - abstract
        raise NotImplementedError
