"""Batch normalisation: raw pixel values that blow the loss up.

The digit images arrive as they come off the disk, with pixel values in [0, 255].  The first
layer's inputs are hundreds of times larger than the network expects, and SGD's first steps
blow the loss up.  Keep the data as it is (raw) and the optimizer: change the network so every
layer sees inputs of a sensible scale.
"""

import trainspec
from trainspec import datasets

_DIGITS = datasets.digits(n=2048, seed=0)
#: 2048 digit images with raw pixel values in [0, 255], and their labels 0-9.
RAW_DIGITS = ((_DIGITS[0] * 255.0).astype("float32"), _DIGITS[1])


def build_model():
    import keras

    layers = [keras.Input((28, 28)), keras.layers.Flatten()]
    for units in (300, 100):
        layers.append(keras.layers.Dense(units, activation="elu", kernel_initializer="he_normal"))
    layers.append(keras.layers.Dense(10, activation="softmax"))
    return keras.Sequential(layers, name="elu_300_100")


recipe = trainspec.Recipe(
    model=build_model, data=RAW_DIGITS, loss="sparse_categorical_crossentropy",
    optimizer="sgd", learning_rate=0.01, steps=200, batch_size=32, metrics=["accuracy"], seed=0,
    name="batchnorm",
)
