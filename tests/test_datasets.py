"""Offline datasets: generated digits, and MNIST/Fashion-MNIST loaders reading files on disk."""

from __future__ import annotations

import gzip

import numpy as np
import pytest

import trainspec
from trainspec import datasets


def test_digits_are_seeded_mnist_shaped_and_balanced():
    x, y = datasets.digits(n=500, seed=3)
    assert x.shape == (500, 28, 28) and x.dtype == np.float32 and y.dtype == np.int32
    assert 0.0 <= x.min() and x.max() <= 1.0
    assert np.bincount(y).tolist() == [50] * 10
    x2, y2 = datasets.digits(n=500, seed=3)
    np.testing.assert_array_equal(x, x2)
    np.testing.assert_array_equal(y, y2)
    x3, _ = datasets.digits(n=500, seed=4)
    assert not np.array_equal(x, x3)
    x[0] = 0.0  # callers get copies: the cache is not changed
    assert datasets.digits(n=500, seed=3)[0][0].max() > 0.5


def test_digits_classes_are_distinct_glyphs():
    x, y = datasets.digits(n=2000, seed=0, noise=0.0, shift=0)
    means = np.stack([x[y == c].mean(0).ravel() for c in range(10)])
    within = np.mean([np.linalg.norm(x[y == c].reshape(-1, 784) - means[c], axis=1).mean()
                      for c in range(10)])
    between = np.mean([np.linalg.norm(means[a] - means[b]) for a in range(10) for b in range(a)])
    assert between > 0.5 * within


def test_digits_reject_bad_arguments():
    with pytest.raises(ValueError):
        datasets.digits(n=0)
    with pytest.raises(ValueError):
        datasets.digits(noise=-1)


def _mlp(hidden):
    def build():
        import keras
        layers = [keras.Input((28, 28)), keras.layers.Flatten()]
        layers += [keras.layers.Dense(hidden, activation="relu")] if hidden else []
        return keras.Sequential(layers + [keras.layers.Dense(10, activation="softmax")])
    build.__qualname__ = f"digits_mlp_{hidden}"
    return build


def test_digits_behave_like_mnist_for_the_lessons():
    data = datasets.digits(n=2048, seed=0)
    val = datasets.digits(n=512, seed=1)
    mlp = trainspec.Recipe(model=_mlp(128), data=data, validation_data=val, steps=300,
                           loss="sparse_categorical_crossentropy", optimizer="sgd",
                           learning_rate=0.1, metrics=["accuracy"], seed=0)
    linear = mlp.replace(model=_mlp(0))
    noisy = mlp.replace(data=datasets.digits(n=2048, seed=0, noise=8.0))
    acc = {name: trainspec.train(r).val["val_accuracy"]
           for name, r in (("mlp", mlp), ("linear", linear), ("noisy", noisy))}
    assert acc["mlp"] >= 0.85, acc  # an MLP learns it in a few hundred steps
    assert acc["linear"] <= acc["mlp"] - 0.08, acc  # a linear model does clearly worse
    assert acc["noisy"] <= 0.35, acc  # heavy noise destroys it


def _write_npz(path, n=12):
    rng = np.random.default_rng(0)
    arrays = {"x_train": rng.integers(0, 256, size=(n, 28, 28), dtype=np.uint8),
              "y_train": rng.integers(0, 10, size=n, dtype=np.uint8),
              "x_test": rng.integers(0, 256, size=(n // 2, 28, 28), dtype=np.uint8),
              "y_test": rng.integers(0, 10, size=n // 2, dtype=np.uint8)}
    np.savez(path, **arrays)
    return arrays


def test_load_mnist_reads_a_keras_npz_file(tmp_path):
    arrays = _write_npz(tmp_path / "mnist.npz")
    (x, y), (xt, yt) = datasets.load_mnist(tmp_path / "mnist.npz")
    assert x.shape == (12, 28, 28) and x.dtype == np.float32 and y.dtype == np.int32
    np.testing.assert_allclose(x, arrays["x_train"] / 255.0, rtol=1e-6)
    np.testing.assert_array_equal(yt, arrays["y_test"])
    (x, _), (xt, _) = datasets.load_mnist(tmp_path / "mnist.npz", limit=5)
    assert len(x) == 5 and len(xt) == 5


def test_default_location_is_the_keras_cache(tmp_path, monkeypatch):
    monkeypatch.setenv("KERAS_HOME", str(tmp_path))
    (tmp_path / "datasets").mkdir()
    _write_npz(tmp_path / "datasets" / "mnist.npz")
    assert datasets.load_mnist()[0][0].shape == (12, 28, 28)


def test_fashion_mnist_from_the_keras_idx_folder(tmp_path, monkeypatch):
    monkeypatch.setenv("KERAS_HOME", str(tmp_path))
    folder = tmp_path / "datasets" / "fashion-mnist"
    folder.mkdir(parents=True)
    images = np.arange(3 * 28 * 28, dtype=np.uint32).astype(np.uint8).reshape(3, 28, 28)
    labels = np.array([1, 7, 9], dtype=np.uint8)
    for prefix in ("train", "t10k"):
        with gzip.open(folder / f"{prefix}-images-idx3-ubyte.gz", "wb") as f:
            f.write(bytes([0, 0, 8, 3]) + b"".join(d.to_bytes(4, "big") for d in (3, 28, 28))
                    + images.tobytes())
        with gzip.open(folder / f"{prefix}-labels-idx1-ubyte.gz", "wb") as f:
            f.write(bytes([0, 0, 8, 1]) + (3).to_bytes(4, "big") + labels.tobytes())
    (x, y), (xt, yt) = datasets.load_fashion_mnist()
    np.testing.assert_allclose(x, images / 255.0, rtol=1e-6)
    assert y.tolist() == [1, 7, 9] and yt.tolist() == [1, 7, 9]


def test_missing_file_says_where_to_place_it_and_never_downloads(tmp_path, monkeypatch):
    monkeypatch.setenv("KERAS_HOME", str(tmp_path))
    with pytest.raises(FileNotFoundError, match=r"never downloads.*mnist\.npz"):
        datasets.load_mnist()
    with pytest.raises(FileNotFoundError, match="fashion-mnist"):
        datasets.load_fashion_mnist()


def test_npz_with_the_wrong_arrays_is_rejected(tmp_path):
    np.savez(tmp_path / "bad.npz", images=np.zeros((2, 28, 28)))
    with pytest.raises(ValueError, match="x_train"):
        datasets.load_mnist(tmp_path / "bad.npz")
