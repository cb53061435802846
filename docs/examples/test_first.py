import keras

import trainspec
from trainspec import datasets


def mlp():
    return keras.Sequential([keras.Input((2,)), keras.layers.Dense(32, activation="relu"),
                             keras.layers.Dense(3, activation="softmax")])

recipe = trainspec.Recipe(model=mlp, data=datasets.blobs(n=1024, classes=3), steps=300,
                          loss="sparse_categorical_crossentropy", optimizer="sgd",
                          learning_rate=0.1, metrics=["accuracy"], seed=0)

@trainspec.applies_to(recipe)
def test_loss_halves(run):
    assert run.loss.relative_decrease() >= 0.5

@trainspec.applies_to(recipe)
def test_loss_falls_by_99_percent(run):   # too strict for 300 steps: fails
    assert run.loss.relative_decrease() >= 0.99
