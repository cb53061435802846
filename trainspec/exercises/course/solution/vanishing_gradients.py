"""Vanishing gradients, solved: ReLU activations with He initialisation.

The sigmoid multiplies the gradient by at most 0.25 per layer; ReLU passes it on unchanged for
positive inputs, and He initialisation keeps the signal's scale constant through depth.
"""

import trainspec
from trainspec import datasets

#: 2048 points in 20 dimensions from 4 clusters, and their cluster labels.
BLOBS = datasets.blobs(n=2048, classes=4, features=20, spread=1.0, seed=2)


def build_model():
    import keras

    layers = [keras.Input((20,))]
    for _ in range(10):  # was activation="sigmoid" with the default (Glorot) initialiser
        layers.append(keras.layers.Dense(64, activation="relu", kernel_initializer="he_normal"))
    layers.append(keras.layers.Dense(4, activation="softmax"))
    return keras.Sequential(layers, name="deep_relu_he_10x64")


recipe = trainspec.Recipe(
    model=build_model, data=BLOBS, loss="sparse_categorical_crossentropy", optimizer="sgd",
    learning_rate=0.05, steps=200, batch_size=32, metrics=["accuracy"], seed=0,
    name="vanishing_gradients",
)
