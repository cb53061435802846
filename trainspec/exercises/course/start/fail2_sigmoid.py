"""Fail2: a network whose first layers hardly learn.

Five hidden layers of 100 units read handwritten digits, but the loss hardly moves: the
gradient that reaches the first layers is tiny.  Change the network so that gradient flows
back to every layer (the specs in specs/ say what is required).
"""

import trainspec
from trainspec import datasets

#: 2048 generated 28x28 digit images (pixels in [0, 1]) and their labels 0-9.
DIGITS = datasets.digits(n=2048, seed=0)


def build_model():
    import keras

    layers = [keras.Input((28, 28)), keras.layers.Flatten()]
    for _ in range(5):
        layers.append(keras.layers.Dense(100, activation="sigmoid"))
    layers.append(keras.layers.Dense(10, activation="softmax"))
    return keras.Sequential(layers, name="sigmoid_5x100")


recipe = trainspec.Recipe(
    model=build_model, data=DIGITS, loss="sparse_categorical_crossentropy", optimizer="sgd",
    learning_rate=0.05, steps=200, batch_size=32, metrics=["accuracy"], seed=0,
    name="fail2_sigmoid",
)
