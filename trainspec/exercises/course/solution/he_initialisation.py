"""Initialisation for ReLU, solved: ``he_normal`` (variance 2 / fan_in).

He initialisation doubles Glorot's variance to make up for the half of its inputs that ReLU
zeroes, so the signal keeps its scale through all twelve layers.
"""

import trainspec
from trainspec import datasets

#: 2048 generated 28x28 digit images (pixels in [0, 1]) and their labels 0-9.
DIGITS = datasets.digits(n=2048, seed=0)


def build_model():
    import keras

    layers = [keras.Input((28, 28)), keras.layers.Flatten()]
    for _ in range(12):  # was kernel_initializer="glorot_normal"
        layers.append(keras.layers.Dense(64, activation="relu", kernel_initializer="he_normal"))
    layers.append(keras.layers.Dense(10, activation="softmax"))
    return keras.Sequential(layers, name="relu_he_12x64")


recipe = trainspec.Recipe(
    model=build_model, data=DIGITS, loss="sparse_categorical_crossentropy", optimizer="sgd",
    learning_rate=0.05, steps=200, batch_size=32, metrics=["accuracy"], seed=0,
    name="he_initialisation",
)
