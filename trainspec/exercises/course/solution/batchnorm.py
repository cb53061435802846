"""Batch normalisation, solved: BatchNormalization after Flatten and after every hidden layer.

Each BatchNormalization layer rescales its inputs to mean 0 / std 1 on every batch, so the same
raw data and learning rate train.
"""

import trainspec
from trainspec import datasets

_DIGITS = datasets.digits(n=2048, seed=0)
#: 2048 digit images with raw pixel values in [0, 255], and their labels 0-9.
RAW_DIGITS = ((_DIGITS[0] * 255.0).astype("float32"), _DIGITS[1])


def build_model():
    import keras

    layers = [keras.Input((28, 28)), keras.layers.Flatten(), keras.layers.BatchNormalization()]
    for units in (300, 100):
        layers.append(keras.layers.Dense(units, activation="elu", kernel_initializer="he_normal"))
        layers.append(keras.layers.BatchNormalization())  # new
    layers.append(keras.layers.Dense(10, activation="softmax"))
    return keras.Sequential(layers, name="elu_300_100_bn")


recipe = trainspec.Recipe(
    model=build_model, data=RAW_DIGITS, loss="sparse_categorical_crossentropy",
    optimizer="sgd", learning_rate=0.01, steps=200, batch_size=32, metrics=["accuracy"], seed=0,
    name="batchnorm",
)
