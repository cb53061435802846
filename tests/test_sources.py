"""Data from a tf.data.Dataset, a generator or a keras.utils.PyDataset: read once into the
arrays an (x, y) recipe would hold, so runs (and fingerprints) are the same."""

from __future__ import annotations

import keras
import numpy as np
import pydantic
import pytest
import tensorflow as tf

import trainspec
from tests.conftest import small_mlp
from trainspec.engine import fingerprint

X = np.random.default_rng(0).normal(size=(64, 2)).astype(np.float32)
Y = (X[:, 0] > 0).astype(np.int32)


def make(data, **changes):
    fields = dict(model=small_mlp(), data=data, loss="sparse_categorical_crossentropy",
                  optimizer="sgd", learning_rate=0.1, steps=5, batch_size=8, seed=0)
    fields.update(changes)
    return trainspec.Recipe(**fields)


class Batches(keras.utils.PyDataset):
    def __len__(self):
        return 4

    def __getitem__(self, i):
        return X[16 * i:16 * (i + 1)], Y[16 * i:16 * (i + 1)]


SOURCES = {
    "dataset-batched": lambda: tf.data.Dataset.from_tensor_slices((X, Y)).batch(10),
    "dataset-unbatched": lambda: tf.data.Dataset.from_tensor_slices((X, Y)),
    "generator": lambda: ((X[i:i + 16], Y[i:i + 16]) for i in range(0, 64, 16)),
    "pydataset": Batches,
}


@pytest.mark.parametrize("kind", SOURCES)
def test_a_source_is_read_into_the_arrays_in_order(kind):
    recipe = make(SOURCES[kind](), validation_data=SOURCES[kind]())
    np.testing.assert_array_equal(recipe.data[0], X)
    np.testing.assert_array_equal(recipe.data[1], Y)
    np.testing.assert_array_equal(recipe.validation_data[0], X)


def test_a_dataset_recipe_is_the_array_recipe():
    assert fingerprint(make(SOURCES["dataset-batched"]())) == fingerprint(make((X, Y)))


@pytest.mark.parametrize(
    ("data", "words"),
    [
        (lambda: tf.data.Dataset.from_tensor_slices((X, Y)).repeat(), "infinite"),
        (lambda: iter([(X, Y, np.ones(64))]), "sample weights are not supported"),
        (lambda: iter([({"a": X}, Y), ({"b": X}, Y)]), "element 1 has keys ['b']"),
        (lambda: iter([]), "yielded nothing"),
        (lambda: iter([(X, Y), (X[:, :1], Y)]), "one per-sample shape"),
    ],
)
def test_unusable_sources_name_the_field(data, words):
    with pytest.raises(pydantic.ValidationError) as info:
        make(data())
    assert info.value.errors()[0]["loc"][0] == "data" and words in str(info.value)


class PairsOfInputs(keras.utils.PyDataset):
    def __len__(self):
        return 4

    def __getitem__(self, i):
        part = slice(16 * i, 16 * (i + 1))
        return (X[part], X[part, :1]), {"kind": Y[part], "size": X[part, 1]}


@pytest.mark.parametrize("source", [
    lambda: (((X[i:i + 16], X[i:i + 16, :1]), {"kind": Y[i:i + 16], "size": X[i:i + 16, 1]})
             for i in range(0, 64, 16)),
    PairsOfInputs,
    lambda: tf.data.Dataset.from_tensor_slices(((X, X[:, :1]), {"kind": Y, "size": X[:, 1]})),
])
def test_several_inputs_and_outputs_are_read_in_their_structure(source):
    recipe = make(source(), loss={"kind": "sparse_categorical_crossentropy", "size": "mse"})
    x, y = recipe.data
    assert isinstance(x, tuple) and [a.shape for a in x] == [(64, 2), (64, 1)]
    np.testing.assert_array_equal(x[0], X)
    assert set(y) == {"kind", "size"}
    np.testing.assert_array_equal(y["kind"], Y)
    np.testing.assert_array_equal(y["size"], X[:, 1])
