"""When do two arrays agree? The one rule every comparison in the project uses.

Two computations of the same quantity agree when their largest absolute difference is
within ``tolerance(dtype) * max(1, max|reference|)``: an absolute bound for values of
order one or smaller, a relative one for larger values (logits, losses, summed gradients).

Why these numbers:

* float64 (eps = 2.2e-16): scratchnet and PyTorch do the same sums in different orders, so
  a correct layer differs by a few ulps of the largest partial sum; measured on the seed
  network, the worst difference is about 1e-15. ``1e-12`` leaves three orders of margin
  and still fails any real bug (a wrong index, a missed tie, a lost term is >= 1e-8).
* float32 (eps = 1.2e-7): the same rounding, 2^29 times larger. A bias or weight gradient
  of a convolution sums thousands of products, and the rounding of such sums grows like
  eps * sqrt(terms) and through the layers; measured over the test suite's random layers
  and networks, the worst is about 9e-7. ``1e-5`` leaves a tenfold margin; a real bug in
  float32 shows as 1e-3 or more.
"""

from __future__ import annotations

import numpy as np

TOLERANCE = {np.dtype(np.float64): 1e-12, np.dtype(np.float32): 1e-5}


def tolerance(dtype: np.dtype | type) -> float:
    """The agreement tolerance for ``dtype`` (see the module docstring)."""
    return TOLERANCE[np.dtype(dtype)]


def errors(ours: np.ndarray, reference: np.ndarray) -> tuple[float, float, float]:
    """``(max abs error, max relative error, scale)`` of ``ours`` against ``reference``.

    The relative error of an entry is ``|ours - ref| / max(|ref|, tiny)``; ``scale`` is
    ``max(1, max|ref|)``, the quantity the tolerance is multiplied by. NaNs in the same
    places count as equal, as do equal infinities; a NaN in only one of them is an
    infinite error. Infinite reference values do not enter the scale.
    """
    ours = np.asarray(ours, dtype=np.float64)
    reference = np.asarray(reference, dtype=np.float64)
    if ours.shape != reference.shape:
        raise ValueError(f"shapes differ: {ours.shape} vs reference {reference.shape}")
    if ours.size == 0:
        return 0.0, 0.0, 1.0
    same = (ours == reference) | (np.isnan(ours) & np.isnan(reference))  # equal infs too
    with np.errstate(invalid="ignore", divide="ignore", over="ignore"):  # inf is the answer
        diff = np.where(same, 0.0, np.abs(ours - reference))
        diff = np.where(np.isnan(diff), np.inf, diff)
        magnitude = np.where(np.isfinite(reference), np.abs(reference), 0.0)
        rel = np.where(same, 0.0, diff / np.maximum(magnitude, np.finfo(np.float64).tiny))
    scale = max(1.0, float(magnitude.max()))
    return float(diff.max()), float(rel.max()), scale


def agree(ours: np.ndarray, reference: np.ndarray, dtype: np.dtype | type) -> bool:
    """Whether ``ours`` agrees with ``reference`` within ``tolerance(dtype)`` (scaled)."""
    abs_err, _, scale = errors(ours, reference)
    return abs_err <= tolerance(dtype) * scale


def assert_agree(
    ours: np.ndarray, reference: np.ndarray, dtype: np.dtype | type, what: str = "value"
) -> None:
    """Raise AssertionError naming ``what`` and the errors when the arrays do not agree."""
    abs_err, rel_err, scale = errors(ours, reference)
    tol = tolerance(dtype) * scale
    if not abs_err <= tol:
        raise AssertionError(
            f"{what}: max abs error {abs_err:.3g} > tolerance {tol:.3g} "
            f"({np.dtype(dtype)}; max rel error {rel_err:.3g})"
        )
