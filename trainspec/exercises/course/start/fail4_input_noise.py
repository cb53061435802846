"""Fail4: a model that learns nothing from its training images.

A small network trains on digit images to which noise of standard deviation 8 was added
(pixels lie in [0, 1]).  It stays at chance, on the training images and on clean held-out
ones.  Change what the model trains on so it generalises to clean digits.
"""

import trainspec
from trainspec import datasets

#: 2048 digit images with pixel noise of standard deviation 8, clipped back to [0, 1].
NOISY_DIGITS = datasets.digits(n=2048, seed=0, noise=8.0)
#: 512 clean held-out digits the model is judged on.
CLEAN_VALIDATION = datasets.digits(n=512, seed=1)


def build_model():
    import keras

    layers = [keras.Input((28, 28)), keras.layers.Flatten()]
    for _ in range(2):
        layers.append(keras.layers.Dense(128, activation="relu"))
    layers.append(keras.layers.Dense(10, activation="softmax"))
    return keras.Sequential(layers, name="mlp_2x128")


recipe = trainspec.Recipe(
    model=build_model, data=NOISY_DIGITS, validation_data=CLEAN_VALIDATION,
    loss="sparse_categorical_crossentropy", optimizer="sgd", learning_rate=0.1, steps=200,
    batch_size=32, metrics=["accuracy"], seed=0, name="fail4_input_noise",
)
