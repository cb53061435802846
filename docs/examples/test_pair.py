"""The README's pair example: a learning rate too small to learn, and the fix."""

import keras

import trainspec
from trainspec import datasets


def mlp():
    return keras.Sequential([keras.Input((2,)), keras.layers.Dense(16, activation="relu"),
                             keras.layers.Dense(3, activation="softmax")])

fixed = trainspec.Recipe(model=mlp, data=datasets.blobs(n=512, classes=3), steps=150,
                         loss="sparse_categorical_crossentropy", optimizer="sgd",
                         learning_rate=0.1, metrics=["accuracy"], seed=0, name="lr-0.1")
broken = fixed.replace(learning_rate=1e-4, name="lr-1e-4")
pair = trainspec.Pair("tiny_learning_rate", broken=broken, fixed=fixed,
                      cause="learning rate 1e-4: the weights barely move",
                      fix="learning rate 0.1")

@trainspec.applies_to(pair)
def test_loss_halves(run):
    trainspec.expect(run).loss_to_fall_by(0.5)

@trainspec.applies_to(pair)
def test_stays_finite(run):  # true of both models: it misses this bug
    trainspec.expect(run).to_be_finite()
