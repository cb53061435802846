"""Initialisation for ReLU: a 12-layer network whose signal fades with depth.

Twelve hidden layers of 64 ReLU units start from ``glorot_normal`` weights.  ReLU zeroes half
of its inputs, so with these weights every layer halves the signal's variance: after twelve
layers little is left, forwards and backwards.  Keep the activations and the optimizer: change
how the weights are initialised.
"""

import trainspec
from trainspec import datasets

#: 2048 generated 28x28 digit images (pixels in [0, 1]) and their labels 0-9.
DIGITS = datasets.digits(n=2048, seed=0)


def build_model():
    import keras

    layers = [keras.Input((28, 28)), keras.layers.Flatten()]
    for _ in range(12):
        layers.append(keras.layers.Dense(64, activation="relu", kernel_initializer="glorot_normal"))
    layers.append(keras.layers.Dense(10, activation="softmax"))
    return keras.Sequential(layers, name="relu_glorot_12x64")


recipe = trainspec.Recipe(
    model=build_model, data=DIGITS, loss="sparse_categorical_crossentropy", optimizer="sgd",
    learning_rate=0.05, steps=200, batch_size=32, metrics=["accuracy"], seed=0,
    name="he_initialisation",
)
