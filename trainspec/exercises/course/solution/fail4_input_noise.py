"""Fail4, solved: train on the images without the added noise.

Noise of standard deviation 8 on pixels in [0, 1] turns every pixel into a coin flip: the
digit no longer exists in the training data.
"""

import trainspec
from trainspec import datasets

#: 2048 digit images (the default light noise of the generator only).
DIGITS = datasets.digits(n=2048, seed=0)
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
    model=build_model, data=DIGITS, validation_data=CLEAN_VALIDATION,  # was NOISY_DIGITS
    loss="sparse_categorical_crossentropy", optimizer="sgd", learning_rate=0.1, steps=200,
    batch_size=32, metrics=["accuracy"], seed=0, name="fail4_input_noise",
)
