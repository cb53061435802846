"""Fail1: a deep, narrow network that does not learn.

Ten hidden layers of 100 ReLU units learn to read handwritten digits with plain SGD, but the
loss does not fall and the accuracy stays at chance.  Change the training settings and the
network's shape until it learns (the specs in specs/ say what "learns" means).
"""

import trainspec
from trainspec import datasets

#: 2048 generated 28x28 digit images (pixels in [0, 1]) and their labels 0-9.
DIGITS = datasets.digits(n=2048, seed=0)


def build_model():
    import keras

    layers = [keras.Input((28, 28)), keras.layers.Flatten()]
    for _ in range(10):
        layers.append(keras.layers.Dense(100, activation="relu"))
    layers.append(keras.layers.Dense(10, activation="softmax"))
    return keras.Sequential(layers, name="deep_narrow_10x100")


recipe = trainspec.Recipe(
    model=build_model, data=DIGITS, loss="sparse_categorical_crossentropy", optimizer="sgd",
    learning_rate=1.0, steps=200, batch_size=32, metrics=["accuracy"], seed=0,
    name="fail1_learning_rate",
)
