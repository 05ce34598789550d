"""Central finite differences: a check of every gradient that does not need PyTorch."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np


def numerical_gradient(f: Callable[[], float], x: np.ndarray, h: float = 1e-6) -> np.ndarray:
    """``df/dx`` by central differences ``(f(x + h) - f(x - h)) / 2h``, one entry at a time.

    ``x`` is perturbed in place (and restored), so ``f`` may read it through a layer.
    Truncation error is O(h^2 f''') and rounding error O(eps f / h); h = 1e-6 in float64
    balances them near 1e-10 relative to the function's scale.
    """
    grad = np.zeros_like(x)
    flat, gflat = x.reshape(-1), grad.reshape(-1)
    assert np.shares_memory(flat, x), "x must be contiguous to be perturbed in place"
    for i in range(flat.size):
        old = flat[i]
        flat[i] = old + h
        plus = f()
        flat[i] = old - h
        minus = f()
        flat[i] = old
        gflat[i] = (plus - minus) / (2 * h)
    return grad


def assert_matches_finite_differences(
    analytic: np.ndarray, numeric: np.ndarray, what: str, tol: float = 1e-7
) -> None:
    """Finite differences carry truncation and rounding error (about 1e-9 here), so the
    bound is 1e-7 times the gradient's scale: far below any real bug's error."""
    scale = max(1.0, float(np.abs(numeric).max()))
    err = float(np.abs(analytic - numeric).max())
    assert err <= tol * scale, f"{what}: finite-difference error {err:.3g} > {tol * scale:.3g}"
