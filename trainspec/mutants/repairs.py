"""The repairs: the faults' inverses (a lower or higher learning rate, He or LeCun
initialisation, ReLU or SELU for sigmoid, clipping, logits for a logits loss, standardised
inputs, unfreezing, early stopping...), which :func:`trainspec.try_fixes` applies.

Example:
    >>> from trainspec.mutants.repairs import REPAIRS
    >>> REPAIRS[0].name
    'lr_default'
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

from trainspec.mutants.base import NotApplicable, Operator
from trainspec.mutants.surgery import (
    WEIGHTED,
    he_normal,
    head_index,
    hidden_to,
    layers_of,
    learning_rate_of,
    optimizer_name,
    rebuild,
    scale_lr,
    serialize,
    with_initializer,
)
from trainspec.recipe import Recipe


def _default_lr(recipe: Recipe) -> Recipe:
    from trainspec.constants import DEFAULT_LEARNING_RATE

    default = DEFAULT_LEARNING_RATE.get(optimizer_name(recipe) or "")
    if default is None:
        raise NotApplicable(f"no known default learning rate for {recipe.optimizer!r}")
    if recipe.learning_rate is not None and abs(recipe.learning_rate - default) <= 1e-12:
        raise NotApplicable("the learning rate is already the optimizer's default")
    return recipe.replace(learning_rate=default)


def _clipnorm(recipe: Recipe) -> Recipe:
    opt = recipe.optimizer
    if isinstance(opt, str):
        return recipe.replace(optimizer={"name": opt, "clipnorm": 1.0})
    if isinstance(opt, dict):
        if opt.get("clipnorm") is not None and float(opt["clipnorm"]) <= 1.0:
            raise NotApplicable("the optimizer already clips at 1.0 or less")
        return recipe.replace(optimizer={**opt, "clipnorm": 1.0})
    raise NotApplicable("the optimizer is an object; set clipnorm=1.0 on it")


def _glorot_uniform() -> Any:
    import keras

    return keras.initializers.GlorotUniform()


def _he_zero_bias(recipe: Recipe) -> Recipe:
    def edit(config: dict[str, Any], model: Any) -> set[str]:
        import keras

        fresh = set()
        for entry in layers_of(config):
            if entry["class_name"] in WEIGHTED and "kernel_initializer" in entry["config"]:
                entry["config"]["kernel_initializer"] = serialize(he_normal())
                if entry["config"].get("use_bias"):
                    entry["config"]["bias_initializer"] = serialize(keras.initializers.Zeros())
                fresh.add(entry["config"]["name"])
        if not fresh:
            raise NotApplicable("no layer has a kernel initialiser")
        return fresh

    return rebuild(recipe, edit)


def _relu_he(recipe: Recipe) -> Recipe:
    return with_initializer(he_normal, "he")(hidden_to("relu")(recipe))


def _lecun_normal() -> Any:
    import keras

    return keras.initializers.LecunNormal()


def _selu_lecun(recipe: Recipe) -> Recipe:
    """SELU hidden activations with LeCun-normal kernels: the self-normalising stack of
    Klambauer et al. (2017), which keeps every layer near mean 0 / variance 1."""
    return with_initializer(_lecun_normal, "lecun")(hidden_to("selu")(recipe))


def _hidden_relu_on_linear(recipe: Recipe) -> Recipe:
    def edit(config: dict[str, Any], model: Any) -> set[str]:
        layers = layers_of(config)
        head = head_index(layers)
        changed = False
        for entry in layers[:head]:
            if entry["class_name"] in WEIGHTED and entry["config"].get("activation") in (None, "linear"):
                entry["config"]["activation"] = "relu"
                changed = True
        if not changed:
            raise NotApplicable("every hidden weighted layer already has an activation")
        return set()

    return rebuild(recipe, edit)


def _head_activation(activation: str) -> Callable[[Recipe], Recipe]:
    def edit(config: dict[str, Any], model: Any) -> set[str]:
        layers = layers_of(config)
        index = head_index(layers)
        head, tail = layers[index], layers[index + 1:]
        if tail and activation == "linear":  # a separate Softmax/Activation layer after the head
            config["layers"] = [e for e in config["layers"] if e not in tail]
            return set()
        if head["config"].get("activation") == activation:
            raise NotApplicable(f"the output activation is already {activation}")
        head["config"]["activation"] = activation
        return set()

    return lambda recipe: rebuild(recipe, edit)


def _multi_label_output(recipe: Recipe) -> Recipe:
    return _head_activation("sigmoid")(recipe).replace(loss="binary_crossentropy")


def _standardise(recipe: Recipe) -> Recipe:
    x = np.asarray(recipe.data[0], dtype=np.float64)
    mean, std = x.mean(axis=0), x.std(axis=0)
    std = np.where(std > 0, std, 1.0)
    changes: dict[str, Any] = {"data": (((x - mean) / std).astype(np.float32), recipe.data[1])}
    if recipe.validation_data is not None:
        vx, vy = recipe.validation_data
        changes["validation_data"] = (((np.asarray(vx) - mean) / std).astype(np.float32), vy)
    return recipe.replace(**changes)


def _moderate_dropout(recipe: Recipe) -> Recipe:
    def edit(config: dict[str, Any], model: Any) -> set[str]:
        found = [e for e in layers_of(config) if e["class_name"].endswith("Dropout")
                 and float(e["config"].get("rate", 0)) > 0.5]
        if not found:
            raise NotApplicable("no dropout above 0.5")
        for entry in found:
            entry["config"]["rate"] = 0.2
        return set()

    return rebuild(recipe, edit)


def _unfreeze(recipe: Recipe) -> Recipe:
    def edit(config: dict[str, Any], model: Any) -> set[str]:
        frozen = [e for e in layers_of(config) if e["config"].get("trainable") is False]
        if not frozen:
            raise NotApplicable("no frozen layer")
        for entry in frozen:
            entry["config"]["trainable"] = True
        return set()

    return rebuild(recipe, edit)


def _crossentropy(recipe: Recipe) -> Recipe:
    """The cross-entropy that fits the labels (integer ids, one-hot or multi-label rows), with
    a softmax output (a sigmoid for multi-label)."""
    from trainspec.doctor.model_checks import label_info

    if recipe.train_step is not None:
        raise NotApplicable("a custom train_step computes its own loss")
    kind, classes = label_info(np.asarray(recipe.data[1]))
    if kind == "multi_label":
        return _multi_label_output(recipe)
    if kind not in ("sparse", "one_hot") or classes < 2:
        raise NotApplicable("the labels are not class labels")
    loss = "sparse_categorical_crossentropy" if kind == "sparse" else "categorical_crossentropy"
    if isinstance(recipe.loss, str) and recipe.loss == loss:
        raise NotApplicable(f"the loss is already {loss}")
    try:
        recipe = _head_activation("softmax")(recipe)
    except NotApplicable:
        pass  # the output is already a softmax
    return recipe.replace(loss=loss)


def _early_stopping(recipe: Recipe) -> Recipe:
    """Early stopping on the validation loss, restoring the best weights (Prechelt 1998)."""
    import keras

    if not recipe.has_validation:
        raise NotApplicable("no validation data to stop on")
    if any(type(cb).__name__ == "EarlyStopping" for cb in recipe.callbacks):
        raise NotApplicable("the recipe already stops early")
    stop = keras.callbacks.EarlyStopping(monitor="val_loss", patience=3,
                                         restore_best_weights=True)
    return recipe.replace(callbacks=[*recipe.callbacks, stop],
                          eval_every=recipe.eval_every or max(1, recipe.steps // 15))


def _momentum(recipe: Recipe) -> Recipe:
    """Plain SGD given momentum 0.9 at the same learning rate (Polyak's heavy ball: a steady
    gradient moves the weights 1 / (1 - 0.9) = 10 times as far)."""
    from trainspec.doctor.rules.conditioning import plain_sgd

    if not plain_sgd(recipe):
        raise NotApplicable("the optimizer is not plain SGD")
    opt = recipe.optimizer
    config = dict(opt) if isinstance(opt, dict) else {"name": "sgd"}
    if not isinstance(opt, (str, dict)):
        config.update({k: v for k, v in opt.get_config().items()
                       if k in ("clipnorm", "clipvalue", "global_clipnorm") and v is not None})
    config["momentum"] = 0.9
    return recipe.replace(optimizer=config, learning_rate=learning_rate_of(recipe))


def _widen(recipe: Recipe) -> Recipe:
    """Hidden Dense layers narrower than the output widened to the widest hidden layer (at
    least the output's units): the inverse of a bottleneck."""

    def edit(config: dict[str, Any], model: Any) -> set[str]:
        dense = [e for e in layers_of(config) if e["class_name"] == "Dense"]
        if len(dense) < 2:
            raise NotApplicable("no hidden Dense layer")
        out = int(dense[-1]["config"]["units"])
        width = max([out, *(int(e["config"]["units"]) for e in dense[:-1])])
        narrow = [e for e in dense[:-1] if int(e["config"]["units"]) < out]
        if not narrow:
            raise NotApplicable("no hidden layer is narrower than the output")
        for entry in narrow:
            entry["config"]["units"] = width
        first = layers_of(config).index(narrow[0])
        for entry in layers_of(config)[first + 1:]:
            entry.pop("build_config", None)  # the next layers' input widths changed
        return set()  # the widened layers and the next ones change shape: fresh weights

    return rebuild(recipe, edit)


#: The repairs: each undoes a family of the faults above (DeepCrime's families).
REPAIRS: tuple[Operator, ...] = (
    Operator("lr_default", "hyperparameters", "the optimizer's default learning rate",
             _default_lr),
    Operator("lr_div_10", "hyperparameters", "the learning rate 10x lower", scale_lr(0.1)),
    Operator("lr_x10", "hyperparameters", "the learning rate 10x higher", scale_lr(10.0)),
    Operator("clipnorm", "optimiser", "gradients clipped to norm 1.0 (clipnorm=1.0)", _clipnorm),
    Operator("relu_he", "activation", "ReLU hidden activations with He initialisation", _relu_he),
    Operator("selu_lecun", "activation", "SELU hidden activations with LeCun-normal "
             "initialisation (self-normalising)", _selu_lecun),
    Operator("leaky_relu", "activation", "LeakyReLU hidden activations", hidden_to("leaky_relu")),
    Operator("add_relu", "activation", "ReLU on the hidden layers that had no activation",
             _hidden_relu_on_linear),
    Operator("he_init", "weights", "He-normal kernel initialisation", with_initializer(he_normal, "he")),
    Operator("he_zero_bias", "weights", "He-normal kernels and zero biases", _he_zero_bias),
    Operator("glorot_init", "weights", "Glorot-uniform kernel initialisation",
             with_initializer(_glorot_uniform, "glorot")),
    Operator("logits_output", "loss", "no activation on the output layer (logits for a logits loss)",
             _head_activation("linear")),
    Operator("softmax_output", "loss", "a softmax on the output layer (probabilities for the loss)",
             _head_activation("softmax")),
    Operator("sigmoid_bce", "loss", "a sigmoid output with binary cross-entropy (multi-label)",
             _multi_label_output),
    Operator("crossentropy", "loss", "a cross-entropy loss matching the labels, on a softmax "
             "output", _crossentropy),
    Operator("standardise_inputs", "training data", "inputs standardised with the training mean and "
             "std (validation inputs with the same)", _standardise),
    Operator("dropout_02", "regularisation", "dropout rates above 0.5 set to 0.2", _moderate_dropout),
    Operator("unfreeze", "weights", "every layer trainable", _unfreeze),
    Operator("early_stopping", "regularisation", "early stopping on the validation loss "
             "(patience 3 evaluations) restoring the best weights", _early_stopping),
    Operator("momentum", "optimiser", "SGD with momentum 0.9 at the same learning rate",
             _momentum),
    Operator("widen", "architecture", "hidden layers narrower than the output widened",
             _widen),
)
