"""Central finite differences: a check of every gradient that needs no PyTorch.

The rule: an analytic gradient agrees with central differences when their largest
difference is within ``FD_TOLERANCE * max(1, max |numeric|)``. With ``h = 1e-6`` in float64
the truncation error ``O(h^2 f''')`` and the rounding error ``O(eps |f| / h)`` meet near
1e-10 relative to the function's scale (about 1e-9 on this project's layers), so 1e-7
leaves a margin of a hundred and is still far below any real bug's error (1e-2 and more).
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

FD_TOLERANCE = 1e-7
STEP = 1e-6


def fd_tolerance(numeric: np.ndarray | float) -> float:
    """The largest difference allowed from the finite differences ``numeric``."""
    return FD_TOLERANCE * max(1.0, float(np.max(np.abs(numeric), initial=0.0)))


def numerical_gradient(f: Callable[[], float], x: np.ndarray, h: float = STEP) -> np.ndarray:
    """``df/dx`` by central differences ``(f(x + h) - f(x - h)) / 2h``, one entry at a time.

    ``x`` is perturbed in place (and restored), so ``f`` may read it through a layer.
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


def directional_derivative(f: Callable[[], float], x: np.ndarray, direction: np.ndarray,
                           h: float = STEP) -> float:
    """``d/dt f(x + t v)`` at 0 by central differences, ``v = direction``, perturbing ``x``
    in place (and restoring it exactly) so that ``f`` may read it through a layer.

    Compared with ``sum(grad * v)`` for a random ``v``, it checks a whole gradient with two
    calls of ``f`` instead of two per entry (as ``torch.autograd.gradcheck``'s fast mode
    does): a wrong gradient agrees along a random direction with probability 0.
    """
    saved = x.copy()
    try:
        x += h * direction
        plus = f()
        x[...] = saved
        x -= h * direction
        minus = f()
    finally:
        x[...] = saved
    return (plus - minus) / (2 * h)


def fd_error(analytic: np.ndarray | float, numeric: np.ndarray | float) -> float:
    """The largest difference between a gradient and its finite differences."""
    return float(np.max(np.abs(np.asarray(analytic) - np.asarray(numeric)), initial=0.0))


def assert_matches_finite_differences(analytic: np.ndarray, numeric: np.ndarray,
                                      what: str) -> None:
    """Assert ``analytic`` agrees with the central differences ``numeric`` (the rule above)."""
    err, tol = fd_error(analytic, numeric), fd_tolerance(numeric)
    assert err <= tol, f"{what}: finite-difference error {err:.3g} > {tol:.3g}"
