"""Fail2, solved: ReLU instead of sigmoid in the hidden layers.

The sigmoid's slope is at most 0.25 and almost 0 in its flat ends, so back-propagation shrinks
the gradient at every layer; ReLU's slope is 1 for positive inputs.
"""

import trainspec
from trainspec import datasets

#: 2048 generated 28x28 digit images (pixels in [0, 1]) and their labels 0-9.
DIGITS = datasets.digits(n=2048, seed=0)


def build_model():
    import keras

    layers = [keras.Input((28, 28)), keras.layers.Flatten()]
    for _ in range(5):
        layers.append(keras.layers.Dense(100, activation="relu"))  # was sigmoid
    layers.append(keras.layers.Dense(10, activation="softmax"))
    return keras.Sequential(layers, name="relu_5x100")


recipe = trainspec.Recipe(
    model=build_model, data=DIGITS, loss="sparse_categorical_crossentropy", optimizer="sgd",
    learning_rate=0.05, steps=200, batch_size=32, metrics=["accuracy"], seed=0,
    name="fail2_sigmoid",
)
