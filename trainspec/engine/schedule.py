"""Which samples each step trains on and at which steps histograms are taken.

In: the sizes and seed of a recipe.  Out: NumPy arrays the loop receives as arguments (so
recipes differing only there share one traced loop).  No TensorFlow here.
"""

from __future__ import annotations

import numpy as np

from trainspec.constants import HISTOGRAM_SNAPSHOTS


def batch_indices(n: int, steps: int, batch_size: int, seed: int) -> np.ndarray:
    """Sample indices for every step: consecutive seeded epoch permutations, so every batch is
    full and the order depends only on the seed.

    Example:
        >>> batch_indices(4, steps=3, batch_size=2, seed=0).shape
        (3, 2)
    """
    rng = np.random.default_rng(seed)
    needed = steps * batch_size
    epochs = -(-needed // n)
    order = np.concatenate([rng.permutation(n) for _ in range(epochs)])[:needed]
    return order.reshape(steps, batch_size).astype(np.int32)


def histogram_steps(steps: int) -> np.ndarray:
    """The steps at which weight and gradient histograms are taken: ``HISTOGRAM_SNAPSHOTS``
    evenly spaced, first and last included.

    Example:
        >>> histogram_steps(3).tolist()
        [0, 1, 2]
    """
    return np.unique(np.linspace(0, steps - 1, HISTOGRAM_SNAPSHOTS).round().astype(np.int64))

