"""Synthetic images for tests that must not depend on the real data being present."""

from __future__ import annotations

import numpy as np


def digits(rng: np.random.Generator, n: int, dtype) -> np.ndarray:
    """Digit-like images: zero background, strokes in (0, 1], so max-pool sees many ties."""
    x = np.zeros((n, 1, 28, 28))
    x[:, :, 6:22, 8:20] = rng.random((n, 1, 16, 12)) * (rng.random((n, 1, 16, 12)) < 0.5)
    return x.astype(dtype)


def block_images(
    n: int, seed: int = 0, dtype: type = np.float64
) -> tuple[np.ndarray, np.ndarray]:
    """``n`` learnable 1x28x28 images: class ``c`` is a bright 7x7 block in cell ``c``.

    The 28x28 image is a 4x4 grid of 7x7 cells; class ``c`` (0..9) brightens cell
    ``divmod(c, 4)`` by 0.7 over uniform [0, 0.3) noise. Classes are balanced.
    """
    rng = np.random.default_rng(seed)
    labels = np.arange(n) % 10
    rng.shuffle(labels)
    images = rng.uniform(0.0, 0.3, (n, 1, 28, 28))
    for i, c in enumerate(labels):
        row, col = divmod(int(c), 4)
        images[i, 0, 7 * row : 7 * row + 7, 7 * col : 7 * col + 7] += 0.7
    return images.astype(dtype), labels.astype(np.int64)
