"""Offline, seeded datasets: nothing is ever downloaded.

Toy sets for fast specs (``blobs``, ``xor``, ``spirals``).  Every function returns numpy
``(x, y)`` with float32 inputs and int32 labels, identical for the same arguments.
"""

from __future__ import annotations

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
