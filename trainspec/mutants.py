"""Mutation operators: derive realistic broken variants from a recipe that trains well.

The operators follow DeepCrime's taxonomy of real training faults (Humbatova, Jahangirova and
Tonella, ISSTA 2021: hyperparameters, activation, weights/initialisation, loss, training data,
regularisation, optimiser).  A spec suite that *kills* a mutant (fails on it) would catch that
fault in real code; ``pytest --trainspec-mutate`` measures this for every fixed recipe of a pair.

Model-changing operators wrap the model builder: the original builder runs (after trainspec has
seeded, as usual), its Keras config is edited and rebuilt, and every weight whose layer the
operator did not re-initialise is copied from the original, so a mutant differs from the
original only by the fault it plants.  An operator that does not apply (no hidden activation, a
subclassed model...) is skipped with a reason.

``REPAIRS`` are the operators' inverses (a lower learning rate, He initialisation, ReLU for
sigmoid, clipping, logits for a logits loss, standardised inputs, unfreezing...), which
:func:`trainspec.try_fixes` applies.  The module passes 500 lines because the faults and their
repairs share one set of model-surgery helpers (``_rebuild``, ``_hidden_to``, ``_initializer``).

Example:
    >>> from trainspec import mutants
    >>> for m in mutants.mutate(fixed_recipe):                 # doctest: +SKIP
    ...     print(m.operator.name, m.skipped or m.recipe.label)
"""

from __future__ import annotations

import copy
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np

from trainspec.recipe import Recipe

_WEIGHTED = {"Dense", "EinsumDense", "Conv1D", "Conv2D", "Conv3D", "DepthwiseConv2D",
             "SeparableConv2D", "Conv1DTranspose", "Conv2DTranspose", "Conv3DTranspose"}
_ACT_LAYERS = {"ReLU", "LeakyReLU", "ELU", "PReLU", "Activation", "Softmax"}


class NotApplicable(Exception):
    """The operator has nothing to change in this recipe."""


@dataclass(frozen=True)
class Operator:
    """One fault: ``name``, its DeepCrime ``family``, what it models, and how to plant it."""

    name: str
    family: str
    models: str
    apply: Callable[[Recipe], Recipe]

    def __call__(self, recipe: Recipe) -> Recipe:
        mutant = self.apply(recipe)
        return mutant.replace(name=f"{recipe.label}~{self.name}")


@dataclass(frozen=True)
class Mutant:
    """An operator applied to a recipe: the mutant recipe, or why the operator was skipped."""

    operator: Operator
    recipe: Recipe | None
    skipped: str | None = None

    @property
    def name(self) -> str:
        return self.operator.name


# -- model surgery -----------------------------------------------------------------------------


def _original(recipe: Recipe) -> Any:
    from trainspec.engine.prepare import build_model

    return build_model(recipe)


def _config(model: Any) -> dict[str, Any]:
    import keras

    if not isinstance(model, keras.Sequential) and not getattr(model, "_is_graph_network", False) and (
        type(model).__name__ != "Functional"
    ):
        raise NotApplicable(
            f"{type(model).__name__} is a subclassed model: model operators need a Sequential or "
            "functional model"
        )
    return copy.deepcopy(model.get_config())


def _layers(config: dict[str, Any]) -> list[dict[str, Any]]:
    return [entry for entry in config["layers"] if entry.get("class_name") != "InputLayer"]


def _head_index(layers: list[dict[str, Any]]) -> int:
    weighted = [i for i, e in enumerate(layers) if e["class_name"] in _WEIGHTED]
    if not weighted:
        raise NotApplicable("the model has no Dense or convolutional layer")
    return weighted[-1]


def _hidden_activations(layers: list[dict[str, Any]]) -> list[int]:
    """Indices of layers before the head that apply a non-linear activation."""
    head = _head_index(layers)
    out = []
    for i, entry in enumerate(layers[:head]):
        act = entry["config"].get("activation")
        if entry["class_name"] in _ACT_LAYERS or (act not in (None, "linear") and
                                                   entry["class_name"] in _WEIGHTED):
            out.append(i)
    return out


def _rebuild(recipe: Recipe, edit: Callable[[dict[str, Any], Any], set[str]]) -> Recipe:
    """A recipe whose model is the original edited by ``edit(config, model) -> names of layers
    to re-initialise``; other layers keep the original's initial weights."""
    probe = _original(recipe)
    edit(_config(probe), probe)  # raise NotApplicable now, not when the run starts

    def build() -> Any:
        import keras

        model = _original(recipe)
        config = _config(model)
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


def _serialize(initializer: Any) -> Any:
    import keras

    return keras.initializers.serialize(initializer)


# -- operators ---------------------------------------------------------------------------------


def _learning_rate(recipe: Recipe) -> float:
    if recipe.learning_rate is not None:
        return float(recipe.learning_rate)
    from trainspec.engine.prepare import resolve_optimizer

    optimizer = resolve_optimizer(recipe, _original(recipe))
    return float(np.asarray(optimizer.learning_rate))


def _scale_lr(factor: float) -> Callable[[Recipe], Recipe]:
    def apply(recipe: Recipe) -> Recipe:
        return recipe.replace(learning_rate=_learning_rate(recipe) * factor)

    return apply


def _hidden_to(activation: str) -> Callable[[Recipe], Recipe]:
    def edit(config: dict[str, Any], model: Any) -> set[str]:
        layers = _layers(config)
        hidden = _hidden_activations(layers)
        changed = False
        for i in hidden:
            entry = layers[i]
            if entry["class_name"] in _WEIGHTED:
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

    return lambda recipe: _rebuild(recipe, edit)


def _initializer(make: Callable[[], Any], what: str) -> Callable[[Recipe], Recipe]:
    def edit(config: dict[str, Any], model: Any) -> set[str]:
        fresh = set()
        for entry in _layers(config):
            if "kernel_initializer" in entry["config"]:
                entry["config"]["kernel_initializer"] = _serialize(make())
                fresh.add(entry["config"]["name"])
        if not fresh:
            raise NotApplicable("no layer has a kernel initialiser")
        return fresh

    return lambda recipe: _rebuild(recipe, edit)


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

        layers = _layers(config)
        head = _head_index(layers)
        fresh = set()
        for i, entry in enumerate(layers[:head]):
            next_act = layers[i + 1] if i + 1 < len(layers) else None
            relu_here = entry["config"].get("activation") == "relu" or (
                next_act is not None and next_act["class_name"] == "ReLU"
            )
            if entry["class_name"] in _WEIGHTED and relu_here and entry["config"].get("use_bias"):
                entry["config"]["bias_initializer"] = _serialize(keras.initializers.Constant(-10.0))
                fresh.add(entry["config"]["name"])
        if not fresh:
            raise NotApplicable("no hidden layer with a bias feeds a ReLU")
        return fresh

    return _rebuild(recipe, edit)


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
        layers = _layers(config)
        head = layers[_head_index(layers)]
        tail = layers[_head_index(layers) + 1:]
        if head["config"].get("activation") in (None, "linear") and not tail:
            head["config"]["activation"] = activation
        return set()

    return _rebuild(recipe, edit).replace(loss=loss_fn)


def _data(recipe: Recipe, fx: Callable[[np.ndarray], np.ndarray] | None = None,
          fy: Callable[[np.ndarray], np.ndarray] | None = None) -> Recipe:
    x, y = recipe.data
    return recipe.replace(data=(fx(x) if fx else x, fy(y) if fy else y))


def _input_noise(recipe: Recipe) -> Recipe:
    x = np.asarray(recipe.data[0])
    if not np.issubdtype(x.dtype, np.floating):
        raise NotApplicable("the inputs are not floats")
    rng = np.random.default_rng(recipe.seed + 7919)
    scale = 2.0 * x.std(axis=0, keepdims=True)
    return _data(recipe, fx=lambda a: (a + rng.normal(size=a.shape) * scale).astype(a.dtype))


def _shuffle_labels(recipe: Recipe) -> Recipe:
    rng = np.random.default_rng(recipe.seed + 104729)
    return _data(recipe, fy=lambda y: y[rng.permutation(len(y))])


def _heavy_dropout(recipe: Recipe) -> Recipe:
    def edit(config: dict[str, Any], model: Any) -> set[str]:
        layers = _layers(config)
        existing = [e for e in layers if e["class_name"] == "Dropout"]
        for entry in existing:
            entry["config"]["rate"] = 0.95
        if existing:
            return set()
        if "input_layers" in config:
            raise NotApplicable("a functional model without Dropout layers")
        head = _head_index(layers)
        hidden = [i for i, e in enumerate(layers[:head]) if e["class_name"] in _WEIGHTED]
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

    return _rebuild(recipe, edit)


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
        layers = _layers(config)
        head = layers[_head_index(layers)]
        if sum(e["class_name"] in _WEIGHTED for e in layers) < 2:
            raise NotApplicable("the model has only one weighted layer")
        i = next(j for j, e in enumerate(config["layers"]) if e is head)
        config["layers"].insert(i, {"module": None, "class_name": "StopGradient",
                                    "registered_name": "trainspec>StopGradient",
                                    "config": {"name": "mutant_stop_gradient", "trainable": True}})
        return set()

    return _rebuild(recipe, edit)


def _huge_l2(recipe: Recipe) -> Recipe:
    def edit(config: dict[str, Any], model: Any) -> set[str]:
        import keras

        touched = False
        for entry in _layers(config):
            if "kernel_regularizer" in entry["config"]:
                entry["config"]["kernel_regularizer"] = keras.regularizers.serialize(
                    keras.regularizers.L2(1.0)
                )
                touched = True
        if not touched:
            raise NotApplicable("no layer takes a kernel regularizer")
        return set()

    return _rebuild(recipe, edit)


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


def _stop_gradient_class() -> Any:
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
             "the loss oscillates or diverges to NaN", _scale_lr(100.0)),
    Operator("lr_div_1e4", "hyperparameters", "a learning rate 10^4x too small: the weights "
             "barely move and the loss stays flat", _scale_lr(1e-4)),
    Operator("hidden_sigmoid", "activation", "every hidden activation replaced by a sigmoid: "
             "gradients shrink by <= 0.25 per layer (vanishing gradients)", _hidden_to("sigmoid")),
    Operator("no_activation", "activation", "hidden activations removed: the network collapses "
             "to a linear model", _hidden_to("linear")),
    Operator("init_zeros", "weights", "all kernels initialised to zero: symmetric units get "
             "identical (or no) gradients and never differentiate", _initializer(_zeros, "zeros")),
    Operator("init_uniform_negative", "weights", "kernels drawn from U[-0.01, 0]: every weight "
             "negative, so ReLU pre-activations of positive inputs are negative (dead units)",
             _initializer(_uniform_negative, "uniform")),
    Operator("init_large_normal", "weights", "kernels drawn from N(0, 10^2): activations and "
             "logits explode, the initial loss is huge, units saturate or die",
             _initializer(_large_normal, "normal")),
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

_BY_NAME = {op.name: op for op in OPERATORS}


def get(name: str) -> Operator:
    """The operator called ``name``."""
    try:
        return _BY_NAME[name]
    except KeyError:
        raise KeyError(f"no mutation operator {name!r}; known: {', '.join(_BY_NAME)}") from None


def apply(operator: Operator | str, recipe: Recipe) -> Mutant:
    """Apply one operator; a :class:`Mutant` with ``skipped`` set when it does not apply."""
    op = get(operator) if isinstance(operator, str) else operator
    _stop_gradient_class()
    try:
        return Mutant(op, op(recipe))
    except NotApplicable as exc:
        return Mutant(op, None, skipped=str(exc))


def mutate(recipe: Recipe, operators: tuple[Operator, ...] | None = None) -> list[Mutant]:
    """Every operator applied to ``recipe`` (builds the model to check what applies)."""
    return [apply(op, recipe) for op in (operators or OPERATORS)]


# -- repairs: the operators' inverses, which trainspec.try_fixes applies -----------------------


def _optimizer_name(recipe: Recipe) -> str | None:
    opt = recipe.optimizer
    if isinstance(opt, str):
        return opt.lower()
    if isinstance(opt, dict):
        return str(opt.get("name", "")).lower() or None
    return type(opt).__name__.lower() if opt is not None else None


def _default_lr(recipe: Recipe) -> Recipe:
    from trainspec.constants import DEFAULT_LEARNING_RATE

    default = DEFAULT_LEARNING_RATE.get(_optimizer_name(recipe) or "")
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


def _he_normal() -> Any:
    import keras

    return keras.initializers.HeNormal()


def _glorot_uniform() -> Any:
    import keras

    return keras.initializers.GlorotUniform()


def _he_zero_bias(recipe: Recipe) -> Recipe:
    def edit(config: dict[str, Any], model: Any) -> set[str]:
        import keras

        fresh = set()
        for entry in _layers(config):
            if entry["class_name"] in _WEIGHTED and "kernel_initializer" in entry["config"]:
                entry["config"]["kernel_initializer"] = _serialize(_he_normal())
                if entry["config"].get("use_bias"):
                    entry["config"]["bias_initializer"] = _serialize(keras.initializers.Zeros())
                fresh.add(entry["config"]["name"])
        if not fresh:
            raise NotApplicable("no layer has a kernel initialiser")
        return fresh

    return _rebuild(recipe, edit)


def _relu_he(recipe: Recipe) -> Recipe:
    return _initializer(_he_normal, "he")(_hidden_to("relu")(recipe))


def _lecun_normal() -> Any:
    import keras

    return keras.initializers.LecunNormal()


def _selu_lecun(recipe: Recipe) -> Recipe:
    """SELU hidden activations with LeCun-normal kernels: the self-normalising stack of
    Klambauer et al. (2017), which keeps every layer near mean 0 / variance 1."""
    return _initializer(_lecun_normal, "lecun")(_hidden_to("selu")(recipe))


def _hidden_relu_on_linear(recipe: Recipe) -> Recipe:
    def edit(config: dict[str, Any], model: Any) -> set[str]:
        layers = _layers(config)
        head = _head_index(layers)
        changed = False
        for entry in layers[:head]:
            if entry["class_name"] in _WEIGHTED and entry["config"].get("activation") in (None, "linear"):
                entry["config"]["activation"] = "relu"
                changed = True
        if not changed:
            raise NotApplicable("every hidden weighted layer already has an activation")
        return set()

    return _rebuild(recipe, edit)


def _head_activation(activation: str) -> Callable[[Recipe], Recipe]:
    def edit(config: dict[str, Any], model: Any) -> set[str]:
        layers = _layers(config)
        index = _head_index(layers)
        head, tail = layers[index], layers[index + 1:]
        if tail and activation == "linear":  # a separate Softmax/Activation layer after the head
            config["layers"] = [e for e in config["layers"] if e not in tail]
            return set()
        if head["config"].get("activation") == activation:
            raise NotApplicable(f"the output activation is already {activation}")
        head["config"]["activation"] = activation
        return set()

    return lambda recipe: _rebuild(recipe, edit)


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
        found = [e for e in _layers(config) if e["class_name"].endswith("Dropout")
                 and float(e["config"].get("rate", 0)) > 0.5]
        if not found:
            raise NotApplicable("no dropout above 0.5")
        for entry in found:
            entry["config"]["rate"] = 0.2
        return set()

    return _rebuild(recipe, edit)


def _unfreeze(recipe: Recipe) -> Recipe:
    def edit(config: dict[str, Any], model: Any) -> set[str]:
        frozen = [e for e in _layers(config) if e["config"].get("trainable") is False]
        if not frozen:
            raise NotApplicable("no frozen layer")
        for entry in frozen:
            entry["config"]["trainable"] = True
        return set()

    return _rebuild(recipe, edit)


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
    return recipe.replace(optimizer=config, learning_rate=_learning_rate(recipe))


def _widen(recipe: Recipe) -> Recipe:
    """Hidden Dense layers narrower than the output widened to the widest hidden layer (at
    least the output's units): the inverse of a bottleneck."""

    def edit(config: dict[str, Any], model: Any) -> set[str]:
        dense = [e for e in _layers(config) if e["class_name"] == "Dense"]
        if len(dense) < 2:
            raise NotApplicable("no hidden Dense layer")
        out = int(dense[-1]["config"]["units"])
        width = max([out, *(int(e["config"]["units"]) for e in dense[:-1])])
        narrow = [e for e in dense[:-1] if int(e["config"]["units"]) < out]
        if not narrow:
            raise NotApplicable("no hidden layer is narrower than the output")
        for entry in narrow:
            entry["config"]["units"] = width
        first = _layers(config).index(narrow[0])
        for entry in _layers(config)[first + 1:]:
            entry.pop("build_config", None)  # the next layers' input widths changed
        return set()  # the widened layers and the next ones change shape: fresh weights

    return _rebuild(recipe, edit)


#: The repairs: each undoes a family of the faults above (DeepCrime's families).
REPAIRS: tuple[Operator, ...] = (
    Operator("lr_default", "hyperparameters", "the optimizer's default learning rate",
             _default_lr),
    Operator("lr_div_10", "hyperparameters", "the learning rate 10x lower", _scale_lr(0.1)),
    Operator("lr_x10", "hyperparameters", "the learning rate 10x higher", _scale_lr(10.0)),
    Operator("clipnorm", "optimiser", "gradients clipped to norm 1.0 (clipnorm=1.0)", _clipnorm),
    Operator("relu_he", "activation", "ReLU hidden activations with He initialisation", _relu_he),
    Operator("selu_lecun", "activation", "SELU hidden activations with LeCun-normal "
             "initialisation (self-normalising)", _selu_lecun),
    Operator("leaky_relu", "activation", "LeakyReLU hidden activations", _hidden_to("leaky_relu")),
    Operator("add_relu", "activation", "ReLU on the hidden layers that had no activation",
             _hidden_relu_on_linear),
    Operator("he_init", "weights", "He-normal kernel initialisation", _initializer(_he_normal, "he")),
    Operator("he_zero_bias", "weights", "He-normal kernels and zero biases", _he_zero_bias),
    Operator("glorot_init", "weights", "Glorot-uniform kernel initialisation",
             _initializer(_glorot_uniform, "glorot")),
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
_BY_NAME.update({op.name: op for op in REPAIRS})

__all__ = ["Mutant", "NotApplicable", "OPERATORS", "Operator", "REPAIRS", "apply", "get", "mutate"]
