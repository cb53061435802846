"""Model builders and data shared by the curriculum's pairs.

Builders import Keras when called, so importing ``examples`` (and collecting ``specs/``) never
imports TensorFlow.  Each builder gets a readable ``__qualname__``: it names the run in reports.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from trainspec import datasets

#: The curriculum's MNIST: 2048 generated 28x28 digits (the real MNIST cannot be downloaded
#: here; see ``trainspec.datasets.load_mnist`` to use it when it is on disk).
DIGITS = datasets.digits(n=2048, seed=0)
#: Held-out digits for the pairs that need validation data.
DIGITS_VAL = datasets.digits(n=512, seed=1)


def dense_net(
    name: str,
    *,
    units: int | list[int] = 100,
    depth: int = 3,
    activation: str = "relu",
    initializer: Any = "glorot_uniform",
    bias_initializer: Any = "zeros",
    input_shape: tuple[int, ...] = (28, 28),
    classes: int = 10,
    output: str | None = "softmax",
    activation_layer: str | None = None,
    batchnorm: bool = False,
    regularizer: tuple[str, float] | None = None,
    dropout: float = 0.0,
) -> Callable[[], Any]:
    """A builder for a Flatten -> ``depth`` Dense layers -> ``classes`` outputs classifier.

    ``initializer`` is a Keras initializer name or a zero-argument function returning one
    (so no Keras object is made at import time).  ``activation_layer`` ("leaky_relu", "prelu",
    "elu") puts the non-linearity in its own layer; ``batchnorm`` adds BatchNormalization
    before the first Dense layer and after every hidden one, as the course does.
    ``regularizer`` (``("l2", 1e-3)`` or ``("l1", 1e-4)``) penalises every hidden layer's
    kernel; ``dropout`` adds a Dropout layer of that rate after every hidden layer.
    """
    widths = units if isinstance(units, list) else [units] * depth

    def build() -> Any:
        import keras

        init = initializer() if callable(initializer) else initializer
        bias = bias_initializer() if callable(bias_initializer) else bias_initializer
        layers: list[Any] = [keras.Input(input_shape)]
        if len(input_shape) > 1:
            layers.append(keras.layers.Flatten())
        if batchnorm:
            layers.append(keras.layers.BatchNormalization())
        penalty = None
        if regularizer is not None:
            kind, factor = regularizer
            penalty = {"l1": keras.regularizers.L1, "l2": keras.regularizers.L2}[kind](factor)
        for width in widths:
            separate = activation_layer is not None
            layers.append(keras.layers.Dense(width, activation=None if separate else activation,
                                             kernel_initializer=init, bias_initializer=bias,
                                             kernel_regularizer=penalty))
            if activation_layer == "leaky_relu":
                layers.append(keras.layers.LeakyReLU(negative_slope=0.2))
            elif activation_layer == "prelu":
                layers.append(keras.layers.PReLU())
            elif activation_layer == "elu":
                layers.append(keras.layers.ELU())
            if batchnorm:
                layers.append(keras.layers.BatchNormalization())
            if dropout:
                layers.append(keras.layers.Dropout(dropout))
        layers.append(keras.layers.Dense(classes, activation=output))
        return keras.Sequential(layers, name=name)

    build.__qualname__ = build.__name__ = name
    return build
