"""Fail3: a ReLU network that never starts learning.

Two hidden layers of 256 ReLU units, with their weights drawn uniformly from [-0.01, 0.0].
Training runs, but the hidden layers receive no gradient at all.  Change how the network
starts so its units can learn (the specs in specs/ say what is required).
"""

import trainspec
from trainspec import datasets

#: 2048 generated 28x28 digit images (pixels in [0, 1]) and their labels 0-9.
DIGITS = datasets.digits(n=2048, seed=0)


def build_model():
    import keras

    init = keras.initializers.RandomUniform(-0.01, 0.0, seed=0)
    layers = [keras.Input((28, 28)), keras.layers.Flatten()]
    for _ in range(2):
        layers.append(keras.layers.Dense(256, activation="relu", kernel_initializer=init))
    layers.append(keras.layers.Dense(10, activation="softmax"))
    return keras.Sequential(layers, name="relu_uniform_neg")


recipe = trainspec.Recipe(
    model=build_model, data=DIGITS, loss="sparse_categorical_crossentropy", optimizer="sgd",
    learning_rate=0.1, steps=200, batch_size=32, metrics=["accuracy"], seed=0,
    name="fail3_weight_init",
)
