"""Fail1, solved: a lower learning rate and a shallower, wider network.

SGD at learning rate 1.0 overshoots at every step; 0.05 converges.  Three hidden layers of 256
units are enough for these digits and learn faster than ten layers of 100.
"""

import trainspec
from trainspec import datasets

#: 2048 generated 28x28 digit images (pixels in [0, 1]) and their labels 0-9.
DIGITS = datasets.digits(n=2048, seed=0)


def build_model():
    import keras

    layers = [keras.Input((28, 28)), keras.layers.Flatten()]
    for _ in range(3):  # was 10 layers of 100 units
        layers.append(keras.layers.Dense(256, activation="relu"))
    layers.append(keras.layers.Dense(10, activation="softmax"))
    return keras.Sequential(layers, name="wide_3x256")


recipe = trainspec.Recipe(
    model=build_model, data=DIGITS, loss="sparse_categorical_crossentropy", optimizer="sgd",
    learning_rate=0.05, steps=200, batch_size=32, metrics=["accuracy"], seed=0,  # was 1.0
    name="fail1_learning_rate",
)
