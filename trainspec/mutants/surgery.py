"""Model surgery shared by the faults and the repairs: read a built model's Keras config, edit
it, rebuild it with every untouched layer's initial weights copied from the original, and the
recipe-level edits (learning rate, data, optimizer name) both sides use.

Example:
    >>> mutant = rebuild(recipe, edit)   # edit(config, model) -> layers to re-initialise  # doctest: +SKIP
"""

from __future__ import annotations

import copy
from collections.abc import Callable
from typing import Any

import numpy as np

from trainspec.mutants.base import NotApplicable
from trainspec.recipe import Recipe

WEIGHTED = {"Dense", "EinsumDense", "Conv1D", "Conv2D", "Conv3D", "DepthwiseConv2D",
             "SeparableConv2D", "Conv1DTranspose", "Conv2DTranspose", "Conv3DTranspose"}
ACT_LAYERS = {"ReLU", "LeakyReLU", "ELU", "PReLU", "Activation", "Softmax"}


def original_model(recipe: Recipe) -> Any:
    from trainspec.engine.prepare import build_model

    return build_model(recipe)


def config_of(model: Any) -> dict[str, Any]:
    import keras

    if not isinstance(model, keras.Sequential) and not getattr(model, "_is_graph_network", False) and (
        type(model).__name__ != "Functional"
    ):
        raise NotApplicable(
            f"{type(model).__name__} is a subclassed model: model operators need a Sequential or "
            "functional model"
        )
    return copy.deepcopy(model.get_config())


def layers_of(config: dict[str, Any]) -> list[dict[str, Any]]:
    return [entry for entry in config["layers"] if entry.get("class_name") != "InputLayer"]


def head_index(layers: list[dict[str, Any]]) -> int:
    weighted = [i for i, e in enumerate(layers) if e["class_name"] in WEIGHTED]
    if not weighted:
        raise NotApplicable("the model has no Dense or convolutional layer")
    return weighted[-1]


def hidden_activations(layers: list[dict[str, Any]]) -> list[int]:
    """Indices of layers before the head that apply a non-linear activation."""
    head = head_index(layers)
    out = []
    for i, entry in enumerate(layers[:head]):
        act = entry["config"].get("activation")
        if entry["class_name"] in ACT_LAYERS or (act not in (None, "linear") and
                                                   entry["class_name"] in WEIGHTED):
            out.append(i)
    return out


def rebuild(recipe: Recipe, edit: Callable[[dict[str, Any], Any], set[str]]) -> Recipe:
    """A recipe whose model is the original edited by ``edit(config, model) -> names of layers
    to re-initialise``; other layers keep the original's initial weights."""
    probe = original_model(recipe)
    edit(config_of(probe), probe)  # raise NotApplicable now, not when the run starts

    def build() -> Any:
        import keras

        model = original_model(recipe)
        config = config_of(model)
        fresh = edit(config, model)
        mutant = type(model).from_config(config) if isinstance(model, keras.Sequential) else (
            keras.Model.from_config(config)
        )
        by_name = {layer.name: layer for layer in model.layers}
        for layer in mutant.layers:
            source = by_name.get(layer.name)
            if source is None or layer.name in fresh:
                continue
            old = source.get_weights()
            if old and [w.shape for w in old] == [w.shape for w in layer.get_weights()]:
                layer.set_weights(old)
        return mutant

    build.__qualname__ = f"{getattr(recipe.model, '__qualname__', 'model')}_mutant"
    return recipe.replace(model=build)


def serialize(initializer: Any) -> Any:
    import keras

    return keras.initializers.serialize(initializer)


def learning_rate_of(recipe: Recipe) -> float:
    if recipe.learning_rate is not None:
        return float(recipe.learning_rate)
    from trainspec.engine.prepare import resolve_optimizer

    optimizer = resolve_optimizer(recipe, original_model(recipe))
    return float(np.asarray(optimizer.learning_rate))


def scale_lr(factor: float) -> Callable[[Recipe], Recipe]:
    def apply(recipe: Recipe) -> Recipe:
        return recipe.replace(learning_rate=learning_rate_of(recipe) * factor)

    return apply


def hidden_to(activation: str) -> Callable[[Recipe], Recipe]:
    def edit(config: dict[str, Any], model: Any) -> set[str]:
        layers = layers_of(config)
        hidden = hidden_activations(layers)
        changed = False
        for i in hidden:
            entry = layers[i]
            if entry["class_name"] in WEIGHTED:
                changed |= entry["config"]["activation"] != activation
                entry["config"]["activation"] = activation
            else:
                name = entry["config"]["name"]
                changed |= entry["config"].get("activation") != activation
                entry["class_name"] = "Activation"
                entry["module"] = "keras.layers"
                entry["config"] = {"name": name, "activation": activation,
                                   "trainable": True, "dtype": entry["config"].get("dtype")}
        if not hidden:
            raise NotApplicable("the model has no hidden activation")
        if not changed:
            raise NotApplicable(f"every hidden activation is already {activation}")
        return set()

    return lambda recipe: rebuild(recipe, edit)


def with_initializer(make: Callable[[], Any], what: str) -> Callable[[Recipe], Recipe]:
    def edit(config: dict[str, Any], model: Any) -> set[str]:
        fresh = set()
        for entry in layers_of(config):
            if "kernel_initializer" in entry["config"]:
                entry["config"]["kernel_initializer"] = serialize(make())
                fresh.add(entry["config"]["name"])
        if not fresh:
            raise NotApplicable("no layer has a kernel initialiser")
        return fresh

    return lambda recipe: rebuild(recipe, edit)


def data_with(recipe: Recipe, fx: Callable[[np.ndarray], np.ndarray] | None = None,
          fy: Callable[[np.ndarray], np.ndarray] | None = None) -> Recipe:
    x, y = recipe.data
    return recipe.replace(data=(fx(x) if fx else x, fy(y) if fy else y))


def optimizer_name(recipe: Recipe) -> str | None:
    opt = recipe.optimizer
    if isinstance(opt, str):
        return opt.lower()
    if isinstance(opt, dict):
        return str(opt.get("name", "")).lower() or None
    return type(opt).__name__.lower() if opt is not None else None


def he_normal() -> Any:
    import keras

    return keras.initializers.HeNormal()
