"""Offline, seeded datasets: nothing is ever downloaded.

Toy sets for fast specs (``blobs``, ``xor``, ``spirals``), ``digits``: a generated 28x28,
10-class image set that plays MNIST's part in the curriculum, and loaders for the real MNIST and
Fashion-MNIST files when they are already on disk (``load_mnist``, ``load_fashion_mnist``).
Every function returns numpy arrays with float32 inputs and int32 labels, identical for the
same arguments.
"""

from __future__ import annotations

import functools
import gzip
import os
from pathlib import Path

import numpy as np


def blobs(n: int = 1024, classes: int = 3, features: int = 2, spread: float = 1.0,
          seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Gaussian clusters, one per class, with centres on a sphere of radius 3.

    Example:
        >>> from trainspec import datasets
        >>> x, y = datasets.blobs(n=300, classes=3, seed=0)
        >>> x.shape, y.shape, sorted(set(y.tolist()))
        ((300, 2), (300,), [0, 1, 2])
    """
    rng = np.random.default_rng(seed)
    centres = rng.normal(size=(classes, features))
    centres *= 3.0 / np.linalg.norm(centres, axis=1, keepdims=True)
    y = np.arange(n) % classes
    rng.shuffle(y)
    x = centres[y] + spread * rng.normal(size=(n, features))
    return x.astype(np.float32), y.astype(np.int32)


def xor(n: int = 1024, noise: float = 0.1, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Points in four quadrants labelled by the sign of ``x0 * x1``: not linearly separable.

    Example:
        >>> from trainspec import datasets
        >>> x, y = datasets.xor(n=8, seed=0)
        >>> x.shape, y.dtype.name
        ((8, 2), 'int32')
    """
    rng = np.random.default_rng(seed)
    x = rng.uniform(-1, 1, size=(n, 2))
    y = (x[:, 0] * x[:, 1] > 0).astype(np.int32)
    x = x + noise * rng.normal(size=x.shape)
    return x.astype(np.float32), y


def spirals(n: int = 1024, classes: int = 2, turns: float = 1.5, noise: float = 0.05,
            seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Interleaved spiral arms, one per class: needs a non-linear model.

    Example:
        >>> from trainspec import datasets
        >>> x, y = datasets.spirals(n=100, classes=2, seed=0)
        >>> x.shape
        (100, 2)
    """
    rng = np.random.default_rng(seed)
    y = np.arange(n) % classes
    rng.shuffle(y)
    t = rng.uniform(0.05, 1.0, size=n)
    angle = 2 * np.pi * turns * t + 2 * np.pi * y / classes
    x = np.stack([t * np.cos(angle), t * np.sin(angle)], axis=1)
    x = x + noise * rng.normal(size=x.shape)
    return x.astype(np.float32), y.astype(np.int32)


# -- digits: a generated stand-in for MNIST ---------------------------------------------------

#: The glyphs are drawn from this fixed seed: class ``c`` looks the same for every ``seed``.
_GLYPH_SEED = 12345
_SIDE = 28


@functools.lru_cache(maxsize=4)
def _glyphs(styles: int) -> np.ndarray:
    """``(10, styles, 3, 2, 2)``: per class and writing style, three strokes (pen-stroke segments
    between two (row, col) points) through four points of a 4x4 lattice in the frame's middle.
    Styles of one class share three of their four points, so classes overlap the way handwriting
    does and a linear model cannot separate them as well as a hidden layer can."""
    rng = np.random.default_rng(_GLYPH_SEED)
    lattice = np.linspace(6, 21, 4)
    points = np.array([(a, b) for a in lattice for b in lattice])
    out = np.zeros((10, styles, 3, 2, 2))
    for c in range(10):
        base = points[rng.choice(len(points), 4, replace=False)]
        for s in range(styles):
            p = base + rng.normal(0, 1.5, size=base.shape)
            if s:
                p[rng.integers(4)] = points[rng.integers(len(points))]
            out[c, s] = [(p[0], p[1]), (p[1], p[2]), (p[2], p[3])]
    return out


@functools.lru_cache(maxsize=8)
def _digits(n: int, seed: int, noise: float, shift: int, styles: int) -> tuple[np.ndarray, np.ndarray]:
    glyphs = _glyphs(styles)
    rng = np.random.default_rng(seed)
    y = np.arange(n) % 10
    rng.shuffle(y)
    style = rng.integers(styles, size=n)
    offset = rng.integers(-shift, shift + 1, size=(n, 1, 1, 2)).astype(np.float64)
    width = rng.uniform(0.9, 1.6, size=(n, 1, 1))
    ends = glyphs[y, style] + offset + rng.normal(0, 0.7, size=(n, 3, 2, 2))  # (n, 3, 2, 2)
    gy, gx = (g.reshape(1, -1).astype(np.float32) for g in np.mgrid[0:_SIDE, 0:_SIDE])
    ends = ends.astype(np.float32)
    inv_var = (1.0 / (2 * width[:, :, 0] ** 2)).astype(np.float32)
    image = np.zeros((n, _SIDE * _SIDE), dtype=np.float32)
    for k in range(3):  # ink = max over strokes of a Gaussian of the distance to the segment
        ay, ax = ends[:, k, 0, 0:1], ends[:, k, 0, 1:2]
        dy, dx = ends[:, k, 1, 0:1] - ay, ends[:, k, 1, 1:2] - ax
        t = ((gy - ay) * dy + (gx - ax) * dx) / np.maximum(dy * dy + dx * dx, 1e-6)
        np.clip(t, 0, 1, out=t)
        dist2 = (gy - ay - t * dy) ** 2 + (gx - ax - t * dx) ** 2
        np.maximum(image, np.exp(-dist2 * inv_var), out=image)
    if noise:
        image += noise * rng.standard_normal(size=image.shape, dtype=np.float32)
    x = np.clip(image, 0.0, 1.0).reshape(n, _SIDE, _SIDE).astype(np.float32)
    x.setflags(write=False)
    y = y.astype(np.int32)
    y.setflags(write=False)
    return x, y


def digits(n: int = 2048, seed: int = 0, noise: float = 0.1, shift: int = 3,
           styles: int = 3) -> tuple[np.ndarray, np.ndarray]:
    """A seeded 28x28, 10-class image set that behaves like MNIST for the curriculum's lessons.

    Each class is a glyph of three pen strokes, written in ``styles`` variants; every image
    moves its glyph by up to ``shift`` pixels, jitters the stroke ends, varies the pen width
    and adds Gaussian pixel ``noise``, then clips to [0, 1].  Measured with SGD (learning rate
    0.1, batch 32, 400 steps on 3072 images): a 128-unit ReLU MLP reaches about 93% validation
    accuracy, a linear softmax model about 79%, and with ``noise=8.0`` the images are gone
    (accuracy near chance).  Returns ``x`` of shape ``(n, 28, 28)`` float32 in [0, 1] and ``y``
    int32 in [0, 9], balanced; the same arguments give the same arrays.

    Example:
        >>> from trainspec import datasets
        >>> x, y = datasets.digits(n=100, seed=0)
        >>> x.shape, x.dtype.name, y.dtype.name, float(x.min()) >= 0.0, float(x.max()) <= 1.0
        ((100, 28, 28), 'float32', 'int32', True, True)
        >>> sorted(set(y.tolist())) == list(range(10))
        True
    """
    if n < 1:
        raise ValueError(f"n must be positive, got {n}")
    if noise < 0 or shift < 0 or styles < 1:
        raise ValueError("noise and shift must be >= 0 and styles >= 1")
    x, y = _digits(int(n), int(seed), float(noise), int(shift), int(styles))
    return x.copy(), y.copy()


# -- real MNIST / Fashion-MNIST, when the file is on disk --------------------------------------


def _keras_datasets_dir() -> Path:
    """Where Keras caches downloaded datasets: ``$KERAS_HOME/datasets`` or ``~/.keras/datasets``."""
    home = os.environ.get("KERAS_HOME") or os.path.join(os.path.expanduser("~"), ".keras")
    return Path(home) / "datasets"


Split = tuple[tuple[np.ndarray, np.ndarray], tuple[np.ndarray, np.ndarray]]


def _scaled(x: np.ndarray, y: np.ndarray, limit: int | None) -> tuple[np.ndarray, np.ndarray]:
    if limit is not None:
        x, y = x[:limit], y[:limit]
    x = np.asarray(x)
    x = x.astype(np.float32) / 255.0 if x.dtype == np.uint8 else x.astype(np.float32)
    return x, np.asarray(y).astype(np.int32)


def _from_npz(path: Path, limit: int | None) -> Split:
    with np.load(path, allow_pickle=False) as f:
        missing = {"x_train", "y_train", "x_test", "y_test"} - set(f.files)
        if missing:
            raise ValueError(
                f"{path} lacks {', '.join(sorted(missing))}: expected Keras' mnist.npz layout "
                "with arrays x_train, y_train, x_test, y_test"
            )
        return _scaled(f["x_train"], f["y_train"], limit), _scaled(f["x_test"], f["y_test"], limit)


def _idx(path: Path) -> np.ndarray:
    """Read one gzipped IDX file (the format of the original MNIST / Fashion-MNIST files)."""
    with gzip.open(path, "rb") as handle:
        data = handle.read()
    dims = data[3]
    shape = tuple(int.from_bytes(data[4 + 4 * i: 8 + 4 * i], "big") for i in range(dims))
    return np.frombuffer(data, dtype=np.uint8, offset=4 + 4 * dims).reshape(shape)


_FASHION_FILES = ("train-images-idx3-ubyte.gz", "train-labels-idx1-ubyte.gz",
                  "t10k-images-idx3-ubyte.gz", "t10k-labels-idx1-ubyte.gz")


def _load(name: str, path: str | os.PathLike[str] | None, candidates: list[Path],
          limit: int | None) -> Split:
    places = [Path(path)] if path is not None else candidates
    for place in places:
        if place.is_file():
            return _from_npz(place, limit)
        if place.is_dir() and all((place / f).is_file() for f in _FASHION_FILES):
            xtr, ytr, xte, yte = (_idx(place / f) for f in _FASHION_FILES)
            return _scaled(xtr, ytr, limit), _scaled(xte, yte, limit)
    tried = ", ".join(str(p) for p in places)
    raise FileNotFoundError(
        f"{name} is not on disk (looked at: {tried}) and trainspec never downloads. Place "
        f"Keras' {candidates[0].name} (arrays x_train, y_train, x_test, y_test) at "
        f"{candidates[0]}, e.g. copy it from a machine where keras.datasets.{name}.load_data() "
        "ran, or pass path=... to the file; or use trainspec.datasets.digits() instead"
    )


def load_mnist(path: str | os.PathLike[str] | None = None, limit: int | None = None) -> Split:
    """The real MNIST, read from disk: ``((x_train, y_train), (x_test, y_test))``.

    ``x`` is float32 in [0, 1] with shape ``(n, 28, 28)``, ``y`` int32; ``limit`` keeps the first
    ``limit`` images of each split.  Nothing is downloaded: place Keras' ``mnist.npz`` (arrays
    ``x_train``, ``y_train``, ``x_test``, ``y_test``, as ``keras.datasets.mnist.load_data()``
    caches it) at ``~/.keras/datasets/mnist.npz`` (``$KERAS_HOME/datasets/`` when set), or
    pass ``path``.  A missing file raises ``FileNotFoundError`` saying where to put it.

    Example:
        >>> from trainspec import datasets
        >>> (x, y), (x_test, y_test) = datasets.load_mnist(limit=2000)   # doctest: +SKIP
    """
    return _load("mnist", path, [_keras_datasets_dir() / "mnist.npz"], limit)


def load_fashion_mnist(path: str | os.PathLike[str] | None = None,
                       limit: int | None = None) -> Split:
    """The real Fashion-MNIST, read from disk, as :func:`load_mnist` reads MNIST.

    Place ``fashion-mnist.npz`` in the ``mnist.npz`` layout at
    ``~/.keras/datasets/fashion-mnist.npz``, or keep the folder Keras caches,
    ``~/.keras/datasets/fashion-mnist/`` with its four ``*-idx*-ubyte.gz`` files; or pass
    ``path`` (a .npz file or such a folder).

    Example:
        >>> from trainspec import datasets
        >>> (x, y), _ = datasets.load_fashion_mnist(limit=2000)            # doctest: +SKIP
    """
    base = _keras_datasets_dir()
    return _load("fashion_mnist", path, [base / "fashion-mnist.npz", base / "fashion-mnist"], limit)
