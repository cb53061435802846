"""Vanishing gradients: a deep sigmoid network whose lower layers are left untrained.

Ten hidden layers of 64 sigmoid units classify points of four clusters in 20 dimensions.  The
gradient shrinks at every layer on its way back, so the first layers receive almost none and
the loss hardly moves.  Change the network so every layer learns.
"""

import trainspec
from trainspec import datasets

#: 2048 points in 20 dimensions from 4 clusters, and their cluster labels.
BLOBS = datasets.blobs(n=2048, classes=4, features=20, spread=1.0, seed=2)


def build_model():
    import keras

    layers = [keras.Input((20,))]
    for _ in range(10):
        layers.append(keras.layers.Dense(64, activation="sigmoid"))
    layers.append(keras.layers.Dense(4, activation="softmax"))
    return keras.Sequential(layers, name="deep_sigmoid_10x64")


recipe = trainspec.Recipe(
    model=build_model, data=BLOBS, loss="sparse_categorical_crossentropy", optimizer="sgd",
    learning_rate=0.05, steps=200, batch_size=32, metrics=["accuracy"], seed=0,
    name="vanishing_gradients",
)
