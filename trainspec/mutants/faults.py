"""The faults: mutation operators after DeepCrime's taxonomy of real training faults
(Humbatova, Jahangirova and Tonella, ISSTA 2021), each planting one fault in a recipe that
trains well.

Example:
    >>> from trainspec.mutants.faults import OPERATORS
    >>> [op.name for op in OPERATORS][:2]
    ['lr_x100', 'lr_div_1e4']
"""

from __future__ import annotations

from typing import Any

import numpy as np

from trainspec.mutants.base import NotApplicable, Operator
from trainspec.mutants.surgery import (
    WEIGHTED,
    data_with,
    head_index,
    hidden_to,
    layers_of,
    rebuild,
    scale_lr,
    serialize,
    with_initializer,
)
from trainspec.recipe import Recipe


def _zeros() -> Any:
    import keras

    return keras.initializers.Zeros()


def _uniform_negative() -> Any:
    import keras

    return keras.initializers.RandomUniform(-0.01, 0.0)


def _large_normal() -> Any:
    import keras

    return keras.initializers.RandomNormal(0.0, 10.0)


def _negative_relu_bias(recipe: Recipe) -> Recipe:
    def edit(config: dict[str, Any], model: Any) -> set[str]:
        import keras

        layers = layers_of(config)
        head = head_index(layers)
        fresh = set()
        for i, entry in enumerate(layers[:head]):
            next_act = layers[i + 1] if i + 1 < len(layers) else None
            relu_here = entry["config"].get("activation") == "relu" or (
                next_act is not None and next_act["class_name"] == "ReLU"
            )
            if entry["class_name"] in WEIGHTED and relu_here and entry["config"].get("use_bias"):
                entry["config"]["bias_initializer"] = serialize(keras.initializers.Constant(-10.0))
                fresh.add(entry["config"]["name"])
        if not fresh:
            raise NotApplicable("no hidden layer with a bias feeds a ReLU")
        return fresh

    return rebuild(recipe, edit)


def _sparse_softmax_ce_with_logits(y_true: Any, y_pred: Any) -> Any:
    """``tf.nn.sparse_softmax_cross_entropy_with_logits`` on the model's output, as a
    hand-written loss or train_step would call it."""
    import tensorflow as tf

    labels = tf.cast(tf.reshape(y_true, [-1]), tf.int32)
    return tf.nn.sparse_softmax_cross_entropy_with_logits(labels=labels, logits=y_pred)


def _softmax_ce_with_logits(y_true: Any, y_pred: Any) -> Any:
    """``tf.nn.softmax_cross_entropy_with_logits`` on the model's output."""
    import tensorflow as tf

    return tf.nn.softmax_cross_entropy_with_logits(labels=y_true, logits=y_pred)


def _sigmoid_ce_with_logits(y_true: Any, y_pred: Any) -> Any:
    """``tf.nn.sigmoid_cross_entropy_with_logits`` on the model's output."""
    import tensorflow as tf

    return tf.nn.sigmoid_cross_entropy_with_logits(labels=tf.cast(y_true, y_pred.dtype),
                                                   logits=y_pred)


def _softmax_with_logits_loss(recipe: Recipe) -> Recipe:
    # tf.nn's *_with_logits, not keras.losses(from_logits=True): Keras recognises a softmax
    # output and silently uses its logits, which would hide the fault.
    if recipe.train_step is not None:
        raise NotApplicable("a custom train_step computes its own loss")
    name = recipe.loss if isinstance(recipe.loss, str) else None
    losses = {
        "sparse_categorical_crossentropy": (_sparse_softmax_ce_with_logits, "softmax"),
        "categorical_crossentropy": (_softmax_ce_with_logits, "softmax"),
        "binary_crossentropy": (_sigmoid_ce_with_logits, "sigmoid"),
    }
    if name not in losses:
        raise NotApplicable(f"loss {recipe.loss!r} is not a Keras cross-entropy name")
    loss_fn, activation = losses[name]

    def edit(config: dict[str, Any], model: Any) -> set[str]:
        layers = layers_of(config)
        head = layers[head_index(layers)]
        tail = layers[head_index(layers) + 1:]
        if head["config"].get("activation") in (None, "linear") and not tail:
            head["config"]["activation"] = activation
        return set()

    return rebuild(recipe, edit).replace(loss=loss_fn)


def _input_noise(recipe: Recipe) -> Recipe:
    x = np.asarray(recipe.data[0])
    if not np.issubdtype(x.dtype, np.floating):
        raise NotApplicable("the inputs are not floats")
    rng = np.random.default_rng(recipe.seed + 7919)
    scale = 2.0 * x.std(axis=0, keepdims=True)
    return data_with(recipe, fx=lambda a: (a + rng.normal(size=a.shape) * scale).astype(a.dtype))


def _shuffle_labels(recipe: Recipe) -> Recipe:
    rng = np.random.default_rng(recipe.seed + 104729)
    return data_with(recipe, fy=lambda y: y[rng.permutation(len(y))])


def _heavy_dropout(recipe: Recipe) -> Recipe:
    def edit(config: dict[str, Any], model: Any) -> set[str]:
        layers = layers_of(config)
        existing = [e for e in layers if e["class_name"] == "Dropout"]
        for entry in existing:
            entry["config"]["rate"] = 0.95
        if existing:
            return set()
        if "input_layers" in config:
            raise NotApplicable("a functional model without Dropout layers")
        head = head_index(layers)
        hidden = [i for i, e in enumerate(layers[:head]) if e["class_name"] in WEIGHTED]
        if not hidden:
            raise NotApplicable("no hidden layer to add dropout after")
        position = {id(layers[i]) for i in hidden}
        out, n = [], 0
        for entry in config["layers"]:
            out.append(entry)
            if id(entry) in position:
                n += 1
                out.append({"module": "keras.layers", "class_name": "Dropout", "registered_name": None,
                            "config": {"name": f"mutant_dropout_{n}", "rate": 0.95,
                                       "trainable": True}})
        config["layers"] = out
        return set()

    return rebuild(recipe, edit)


def _tiny_clipvalue(recipe: Recipe) -> Recipe:
    spec = recipe.optimizer
    if spec is None:
        raise NotApplicable("the optimizer comes from a compiled model")
    if isinstance(spec, str):
        new: Any = {"name": spec, "clipvalue": 1e-5}
    elif isinstance(spec, dict):
        new = {**{k: v for k, v in spec.items() if k not in ("clipnorm", "global_clipnorm")},
               "clipvalue": 1e-5}
    else:
        config = {**spec.get_config(), "clipvalue": 1e-5, "clipnorm": None, "global_clipnorm": None}
        new = type(spec).from_config(config)
    return recipe.replace(optimizer=new)


def _stop_gradient_head(recipe: Recipe) -> Recipe:
    def edit(config: dict[str, Any], model: Any) -> set[str]:
        if "input_layers" in config:
            raise NotApplicable("inserting a layer needs a Sequential model")
        layers = layers_of(config)
        head = layers[head_index(layers)]
        if sum(e["class_name"] in WEIGHTED for e in layers) < 2:
            raise NotApplicable("the model has only one weighted layer")
        i = next(j for j, e in enumerate(config["layers"]) if e is head)
        config["layers"].insert(i, {"module": None, "class_name": "StopGradient",
                                    "registered_name": "trainspec>StopGradient",
                                    "config": {"name": "mutant_stop_gradient", "trainable": True}})
        return set()

    return rebuild(recipe, edit)


def _huge_l2(recipe: Recipe) -> Recipe:
    def edit(config: dict[str, Any], model: Any) -> set[str]:
        import keras

        touched = False
        for entry in layers_of(config):
            if "kernel_regularizer" in entry["config"]:
                entry["config"]["kernel_regularizer"] = keras.regularizers.serialize(
                    keras.regularizers.L2(1.0)
                )
                touched = True
        if not touched:
            raise NotApplicable("no layer takes a kernel regularizer")
        return set()

    return rebuild(recipe, edit)


def _unscaled(recipe: Recipe) -> Recipe:
    x = np.asarray(recipe.data[0])
    if not np.issubdtype(x.dtype, np.floating):
        raise NotApplicable("the inputs are not floats")
    changes: dict[str, Any] = {"data": (x * 255.0, recipe.data[1])}
    if recipe.validation_data is not None:
        vx, vy = recipe.validation_data
        changes["validation_data"] = (np.asarray(vx) * 255.0, vy)
    return recipe.replace(**changes)


_STOP_GRADIENT: list[Any] = []


def stop_gradient_class() -> Any:
    if _STOP_GRADIENT:
        return _STOP_GRADIENT[0]
    import keras

    @keras.saving.register_keras_serializable(package="trainspec")
    class StopGradient(keras.layers.Layer):
        """Passes its input forward and no gradient backward."""

        def call(self, inputs: Any) -> Any:
            return keras.ops.stop_gradient(inputs)

    _STOP_GRADIENT.append(StopGradient)
    return StopGradient


OPERATORS: tuple[Operator, ...] = (
    Operator("lr_x100", "hyperparameters", "a learning rate 100x too large: updates overshoot, "
             "the loss oscillates or diverges to NaN", scale_lr(100.0)),
    Operator("lr_div_1e4", "hyperparameters", "a learning rate 10^4x too small: the weights "
             "barely move and the loss stays flat", scale_lr(1e-4)),
    Operator("hidden_sigmoid", "activation", "every hidden activation replaced by a sigmoid: "
             "gradients shrink by <= 0.25 per layer (vanishing gradients)", hidden_to("sigmoid")),
    Operator("no_activation", "activation", "hidden activations removed: the network collapses "
             "to a linear model", hidden_to("linear")),
    Operator("init_zeros", "weights", "all kernels initialised to zero: symmetric units get "
             "identical (or no) gradients and never differentiate", with_initializer(_zeros, "zeros")),
    Operator("init_uniform_negative", "weights", "kernels drawn from U[-0.01, 0]: every weight "
             "negative, so ReLU pre-activations of positive inputs are negative (dead units)",
             with_initializer(_uniform_negative, "uniform")),
    Operator("init_large_normal", "weights", "kernels drawn from N(0, 10^2): activations and "
             "logits explode, the initial loss is huge, units saturate or die",
             with_initializer(_large_normal, "normal")),
    Operator("relu_negative_bias", "weights", "a bias of -10 before every hidden ReLU: the units "
             "are never active and receive no gradient (dying ReLU)", _negative_relu_bias),
    Operator("softmax_logits_loss", "loss", "softmax/sigmoid outputs fed to a loss with "
             "from_logits=True: probabilities squashed twice, the loss is floored",
             _softmax_with_logits_loss),
    Operator("input_noise", "training data", "Gaussian noise of twice each feature's spread "
             "added to the inputs: a noisy, mislabelled-looking data pipeline", _input_noise),
    Operator("label_shuffle", "training data", "labels permuted across samples: a data loader "
             "that misaligns inputs and labels; nothing can be learned", _shuffle_labels),
    Operator("dropout_095", "regularisation", "dropout of 0.95 after hidden layers (or every "
             "Dropout set to 0.95): the signal is starved", _heavy_dropout),
    Operator("tiny_clipvalue", "optimiser", "gradient clipping at 1e-5 per element: updates are "
             "too small to learn", _tiny_clipvalue),
    Operator("stop_gradient_head", "activation", "a stop_gradient before the output layer: only "
             "the head learns, the body's weights never change", _stop_gradient_head),
    Operator("huge_l2", "regularisation", "an L2 penalty of 1.0 on every kernel: weight decay "
             "overwhelms the data loss and the weights collapse to zero", _huge_l2),
    Operator("unscaled_inputs", "training data", "inputs multiplied by 255 (a forgotten /255): "
             "huge pre-activations, saturation and dead units", _unscaled),
)
