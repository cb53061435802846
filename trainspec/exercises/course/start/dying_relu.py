"""Dying ReLUs: big steps that switch units off for good.

Three hidden layers of 128 ReLU units, trained with Adam at learning rate 0.02.  The large
early steps push many units to a negative input for every image: there ReLU outputs 0 and has
no gradient, so they never recover.  Keep the optimizer and its learning rate: change the
hidden layers' non-linearity so that a unit pushed there can come back.
"""

import trainspec
from trainspec import datasets

#: 2048 generated 28x28 digit images (pixels in [0, 1]) and their labels 0-9.
DIGITS = datasets.digits(n=2048, seed=0)


def build_model():
    import keras

    layers = [keras.Input((28, 28)), keras.layers.Flatten()]
    for _ in range(3):
        layers.append(keras.layers.Dense(128, activation="relu", kernel_initializer="he_normal"))
    layers.append(keras.layers.Dense(10, activation="softmax"))
    return keras.Sequential(layers, name="relu_3x128")


recipe = trainspec.Recipe(
    model=build_model, data=DIGITS, loss="sparse_categorical_crossentropy", optimizer="adam",
    learning_rate=0.02, steps=200, batch_size=32, metrics=["accuracy"], seed=0,
    name="dying_relu",
)
