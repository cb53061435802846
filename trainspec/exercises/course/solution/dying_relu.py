"""Dying ReLUs, solved: LeakyReLU (slope 0.2 for negative inputs).

A unit whose input is negative for every image still gets a gradient through the leaky slope,
so it can come back.  PReLU and ELU work too.
"""

import trainspec
from trainspec import datasets

#: 2048 generated 28x28 digit images (pixels in [0, 1]) and their labels 0-9.
DIGITS = datasets.digits(n=2048, seed=0)


def build_model():
    import keras

    layers = [keras.Input((28, 28)), keras.layers.Flatten()]
    for _ in range(3):  # was Dense(128, activation="relu", ...)
        layers.append(keras.layers.Dense(128, activation=None, kernel_initializer="he_normal"))
        layers.append(keras.layers.LeakyReLU(negative_slope=0.2))
    layers.append(keras.layers.Dense(10, activation="softmax"))
    return keras.Sequential(layers, name="leaky_relu_3x128")


recipe = trainspec.Recipe(
    model=build_model, data=DIGITS, loss="sparse_categorical_crossentropy", optimizer="adam",
    learning_rate=0.02, steps=200, batch_size=32, metrics=["accuracy"], seed=0,
    name="dying_relu",
)
