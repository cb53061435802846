"""Whether a layer's weights are still the values its initializers drew, or were loaded.

A frozen layer (``trainable=False``) is fine when it holds pretrained weights (transfer
learning freezes a pretrained base on purpose) and a mistake when it holds the random values it
was initialised with: those never train, so the network trains around noise.  The two are told
apart from the weights alone, without drawing random numbers (which would move the seeded
random state of the run): a variable made by a constant initializer (``zeros``, ``ones``,
``Constant``) still holds exactly that constant; one made by a random initializer still has the
spread that initializer gives (the standard deviation within a few standard errors of the
expected one, the mean near 0).  Training moves biases off zero and rescales kernels, so
pretrained layers fail at least one of these.  Imports neither Keras nor TensorFlow.

Example:
    >>> import keras                                              # doctest: +SKIP
    >>> layer = keras.layers.Dense(8); layer.build((None, 16))
    >>> at_initializer(layer)
    True
    >>> layer.bias.assign(layer.bias + 0.1); at_initializer(layer)
    False
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

#: Relative tolerance on a random initializer's standard deviation beyond its sampling noise.
_STD_SLACK = 0.1


def _fans(shape: tuple[int, ...]) -> tuple[float, float]:
    """Keras' ``compute_fans``: (fan_in, fan_out) of a weight shape."""
    if len(shape) == 0:
        return 1.0, 1.0
    if len(shape) == 1:
        return float(shape[0]), float(shape[0])
    if len(shape) == 2:
        return float(shape[0]), float(shape[1])
    receptive = float(math.prod(shape[:-2]))
    return shape[-2] * receptive, shape[-1] * receptive


def expected_spread(init: Any, shape: tuple[int, ...]) -> tuple[str, float, float] | None:
    """What a fresh draw of ``init`` for ``shape`` looks like: ``("constant", value, 0)`` or
    ``("random", mean, std)``; None for an initializer this module cannot describe."""
    name = type(init).__name__
    if name == "Zeros":
        return "constant", 0.0, 0.0
    if name == "Ones":
        return "constant", 1.0, 0.0
    if name == "Constant":
        value = getattr(init, "value", None)
        return ("constant", float(value), 0.0) if isinstance(value, (int, float)) else None
    if all(hasattr(init, a) for a in ("scale", "mode", "distribution")):  # VarianceScaling
        if getattr(init, "input_axes", None) is not None or getattr(init, "output_axes", None):
            return None
        fan_in, fan_out = _fans(shape)
        n = {"fan_in": fan_in, "fan_out": fan_out}.get(init.mode, (fan_in + fan_out) / 2.0)
        # every distribution Keras offers here is scaled to a variance of scale / n
        return "random", 0.0, math.sqrt(float(init.scale) / max(1.0, n))
    if name == "RandomNormal":
        return "random", float(init.mean), float(init.stddev)
    if name == "TruncatedNormal":  # truncated at two standard deviations
        return "random", float(init.mean), 0.87962566 * float(init.stddev)
    if name == "RandomUniform":
        lo, hi = float(init.minval), float(init.maxval)
        return "random", (lo + hi) / 2.0, (hi - lo) / math.sqrt(12.0)
    return None


def matches(values: np.ndarray, spread: tuple[str, float, float]) -> bool:
    """Whether ``values`` look like a fresh draw described by :func:`expected_spread`."""
    kind, mean, std = spread
    values = np.asarray(values, dtype=np.float64).ravel()
    if kind == "constant":
        return bool(np.all(values == mean))
    if values.size < 2 or std <= 0:
        return bool(np.all(values == mean))
    # the sample standard deviation's standard error is about std / sqrt(2n)
    tolerance = _STD_SLACK + 4.0 / math.sqrt(2.0 * values.size)
    ratio = float(values.std()) / std
    centred = abs(float(values.mean()) - mean) <= 4.0 * std / math.sqrt(values.size) + 0.1 * std
    return abs(ratio - 1.0) <= tolerance and centred


def at_initializer(layer: Any) -> bool | None:
    """True when every weight of ``layer`` made by an initializer this module knows still looks
    like that initializer's fresh draw; False when one does not (loaded or trained weights);
    None when no weight's initializer is known (nothing to tell by).

    A variable ``v`` of a Keras layer is made by the layer's ``<v.name>_initializer``
    (``kernel_initializer``, ``bias_initializer``, ``gamma_initializer``...).
    """
    known = False
    for weight in getattr(layer, "weights", []):
        name = str(getattr(weight, "name", "")).split("/")[-1].split(":")[0]
        init = getattr(layer, f"{name}_initializer", None)
        if init is None:
            continue
        shape = tuple(int(d) for d in weight.shape)
        spread = expected_spread(init, shape)
        if spread is None:
            continue
        try:
            values = np.asarray(weight.numpy() if hasattr(weight, "numpy") else weight)
        except Exception:
            continue
        known = True
        if not matches(values, spread):
            return False
    return True if known else None
