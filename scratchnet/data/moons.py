"""Two interleaved moons: a 2-D data set that no straight line separates.

Class 0 lies on the upper half of the unit circle around ``(0, 0)``, class 1 on the lower
half of the unit circle around ``(1, 0.5)``; each arm reaches into the other's hollow, so
every line leaves a good part of one class on the wrong side (a linear classifier gets
about 85-90% right), while the gap between the arcs is clear enough for a small ReLU
network to separate them almost perfectly. Gaussian noise of standard deviation
``noise`` is added to both coordinates.
"""

from __future__ import annotations

import math

import numpy as np


def two_moons(n: int, noise: float = 0.1, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """``n`` points of the two moons, in random order; the same ``seed`` gives the same points.

    Args:
        n: number of points, >= 1; class 0 gets ``ceil(n / 2)`` of them, class 1 the rest.
        noise: standard deviation of the Gaussian noise added to each coordinate, >= 0.
        seed: seeds ``np.random.default_rng``.

    Returns:
        ``x: (n, 2)`` float64 points and ``labels: (n,)`` int64 classes (0 or 1).
    """
    if isinstance(n, bool) or not isinstance(n, (int, np.integer)) or n < 1:
        raise ValueError(f"two_moons: n must be an integer >= 1, got {n!r}")
    if not (isinstance(noise, (int, float)) and math.isfinite(noise) and noise >= 0):
        raise ValueError(f"two_moons: noise must be a finite number >= 0, got {noise!r}")
    rng = np.random.default_rng(seed)
    labels = (np.arange(n) >= (n + 1) // 2).astype(np.int64)
    angle = rng.uniform(0.0, math.pi, n)
    upper = np.stack([np.cos(angle), np.sin(angle)], axis=1)             # class 0
    lower = np.stack([1.0 - np.cos(angle), 0.5 - np.sin(angle)], axis=1)  # class 1
    x = np.where(labels[:, None] == 0, upper, lower) + rng.normal(0.0, noise, (n, 2))
    order = rng.permutation(n)
    return x[order], labels[order]


__all__ = ["two_moons"]
