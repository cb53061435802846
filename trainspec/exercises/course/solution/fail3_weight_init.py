"""Fail3, solved: weights drawn from [-0.01, +0.01].

Pixels are >= 0 and every starting weight was <= 0, so every ReLU got a negative input, output
0 and passed no gradient back.  Symmetric weights start half the units alive.
"""

import trainspec
from trainspec import datasets

#: 2048 generated 28x28 digit images (pixels in [0, 1]) and their labels 0-9.
DIGITS = datasets.digits(n=2048, seed=0)


def build_model():
    import keras

    init = keras.initializers.RandomUniform(-0.01, 0.01, seed=0)  # was [-0.01, 0.0]
    layers = [keras.Input((28, 28)), keras.layers.Flatten()]
    for _ in range(2):
        layers.append(keras.layers.Dense(256, activation="relu", kernel_initializer=init))
    layers.append(keras.layers.Dense(10, activation="softmax"))
    return keras.Sequential(layers, name="relu_uniform_sym")


recipe = trainspec.Recipe(
    model=build_model, data=DIGITS, loss="sparse_categorical_crossentropy", optimizer="sgd",
    learning_rate=0.1, steps=200, batch_size=32, metrics=["accuracy"], seed=0,
    name="fail3_weight_init",
)
