"""Sums of shifted ReLUs, the seed's section 2: eqs. (23)-(25), and what eq. (24) gets wrong.

A sum of shifted ReLUs with a constant (eq. 25, with the shifts ``s_i`` written out)::

    f(x) = b + sum_i c_i ReLU(x - s_i)          s_1 < s_2 < ... < s_n

is a network with one hidden layer: ``Dense(1, n)`` with weights 1 and biases ``-s_i``,
then ``ReLU``, then ``Dense(n, 1)`` with weights ``c_i`` and bias ``b``
(:func:`relu_sum_network`). Left of ``s_1`` every ReLU is 0; between ``s_k`` and
``s_(k+1)`` the first ``k`` are on, each adding ``c_i (x - s_i)``, so ``f`` is a line there
(:func:`pieces`)::

    slope_k = c_1 + ... + c_k        intercept_k = b - (c_1 s_1 + ... + c_k s_k)

Each ReLU is 0 at its own breakpoint, so switching it on adds nothing there: neighbouring
pieces meet, and only the slope changes, by ``c_k``. The seed's eq. (24) writes the pieces
without the shifts, ``(c_1 + ... + c_k) x``: its pieces have the right slopes but
intercept 0, and at ``s_k`` it jumps by ``c_k s_k``, the term it dropped
(:func:`seed_eq24_pieces`). The seed's example, eq. (23), has shifts 0, 2, 4, 6 and
coefficients 1, -3, 5, -6 (:data:`EQ23_SHIFTS`, :data:`EQ23_COEFFICIENTS`).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from itertools import pairwise

import numpy as np

from scratchnet import Dense, ReLU, Sequential

EQ23_SHIFTS = (0.0, 2.0, 4.0, 6.0)
EQ23_COEFFICIENTS = (1.0, -3.0, 5.0, -6.0)


@dataclass(frozen=True)
class Piece:
    """``f(x) = slope * x + intercept`` for ``start <= x < end`` (ends may be infinite)."""

    start: float
    end: float
    slope: float
    intercept: float

    def __call__(self, x: np.ndarray | float) -> np.ndarray | float:
        return self.slope * x + self.intercept

    def formula(self) -> str:
        """The line written out, e.g. ``-2x + 6``, ``x`` or ``0``."""
        x_term = {0.0: "", 1.0: "x", -1.0: "-x"}.get(self.slope, f"{self.slope:g}x")
        if not x_term or self.intercept == 0:
            return x_term or f"{self.intercept:g}"
        return f"{x_term} {'+' if self.intercept > 0 else '-'} {abs(self.intercept):g}"


def _check_shifts(shifts: Sequence[float], coefficients: Sequence[float]) -> None:
    if len(shifts) != len(coefficients) or len(shifts) == 0:
        raise ValueError(f"expected as many shifts as coefficients (at least one), got "
                         f"{len(shifts)} and {len(coefficients)}")
    if any(b <= a for a, b in pairwise(shifts)):
        raise ValueError(f"expected increasing shifts, got {list(shifts)}")


def relu_sum_network(
    shifts: Sequence[float], coefficients: Sequence[float], bias: float = 0.0
) -> Sequential:
    """Eq. (25) as a scratchnet network: ``x: (N, 1)`` -> ``f(x): (N, 1)``.

    ``fc1`` (weights 1, biases ``-s_i``) -> ``relu1`` -> ``fc2`` (weights ``c_i``, bias ``b``).
    """
    _check_shifts(shifts, coefficients)
    n = len(shifts)
    net = Sequential(Dense(1, n), ReLU(), Dense(n, 1))
    net.load_params({
        "fc1.weight": np.ones((n, 1)), "fc1.bias": -np.asarray(shifts, dtype=np.float64),
        "fc2.weight": np.asarray(coefficients, dtype=np.float64)[None, :],
        "fc2.bias": np.array([bias], dtype=np.float64),
    })
    return net


def relu_sum(
    x: np.ndarray, shifts: Sequence[float], coefficients: Sequence[float], bias: float = 0.0
) -> np.ndarray:
    """``f(x) = b + sum_i c_i ReLU(x - s_i)`` (eq. 25) at ``x: (M,)``, by
    :func:`relu_sum_network`; ``(M,)``."""
    net = relu_sum_network(shifts, coefficients, bias)
    return net.forward(np.asarray(x, dtype=np.float64).reshape(-1, 1))[:, 0]


def pieces(
    shifts: Sequence[float], coefficients: Sequence[float], bias: float = 0.0
) -> list[Piece]:
    """The ``n + 1`` linear pieces of eq. (25), from ``-inf`` to ``s_1`` up to ``s_n`` to ``inf``.

    On piece ``k`` the ReLUs ``1..k`` are on: slope ``c_1 + ... + c_k`` and intercept
    ``b - (c_1 s_1 + ... + c_k s_k)`` (the module docstring says why).
    """
    _check_shifts(shifts, coefficients)
    ends = [-math.inf, *shifts, math.inf]
    slope, intercept, out = 0.0, float(bias), []
    for k in range(len(shifts) + 1):
        if k > 0:
            slope += coefficients[k - 1]
            intercept -= coefficients[k - 1] * shifts[k - 1]
        out.append(Piece(ends[k], ends[k + 1], slope, intercept))
    return out


def seed_eq24_pieces(
    shifts: Sequence[float] = EQ23_SHIFTS, coefficients: Sequence[float] = EQ23_COEFFICIENTS
) -> list[Piece]:
    """Eq. (24) as the seed prints it: from ``s_1`` on, the slopes of :func:`pieces` times
    ``x``, without the shifts' terms (intercept 0). For eq. (23) that is ``x, x - 3x,
    x - 3x + 5x, x - 3x + 5x - 6x``; the seed says nothing for ``x < s_1``."""
    return [Piece(p.start, p.end, p.slope, 0.0) for p in pieces(shifts, coefficients)[1:]]


def evaluate_pieces(pieces_: Sequence[Piece], x: np.ndarray) -> np.ndarray:
    """The piecewise function at ``x: (M,)``: each ``x`` by the piece whose
    ``[start, end)`` holds it, NaN where none does; ``(M,)``."""
    x = np.asarray(x, dtype=np.float64)
    out = np.full(x.shape, np.nan)
    for piece in pieces_:
        inside = (x >= piece.start) & (x < piece.end)
        out[inside] = piece(x[inside])
    return out


def jumps(pieces_: Sequence[Piece]) -> list[float]:
    """At each breakpoint between neighbouring pieces, the next piece's value minus the
    previous one's: all 0 for a continuous function."""
    return [float(after(after.start) - before(after.start))
            for before, after in pairwise(pieces_)]


def fit_relu_sum(
    x: np.ndarray, target: np.ndarray, shifts: Sequence[float]
) -> tuple[float, np.ndarray]:
    """Least-squares ``b`` and ``c`` of eq. (25) with the given shifts for ``target`` at ``x``.

    The features are the hidden layer of :func:`relu_sum_network` (``ReLU(x - s_i)``,
    computed by scratchnet's ``Dense`` and ``ReLU``) and a column of ones for ``b``.

    Args:
        x, target: ``(M,)`` points and the values to fit there.
        shifts: the ``n`` breakpoints, increasing.

    Returns:
        ``(b, c)`` with ``c: (n,)``.
    """
    hidden = relu_sum_network(shifts, np.zeros(len(shifts)))
    features = hidden["relu1"].forward(hidden["fc1"].forward(
        np.asarray(x, dtype=np.float64).reshape(-1, 1)))
    design = np.column_stack([np.ones(len(features)), features])
    solution, *_ = np.linalg.lstsq(design, np.asarray(target, dtype=np.float64), rcond=None)
    return float(solution[0]), solution[1:]


__all__ = ["EQ23_COEFFICIENTS", "EQ23_SHIFTS", "Piece", "evaluate_pieces", "fit_relu_sum",
           "jumps", "pieces", "relu_sum", "relu_sum_network", "seed_eq24_pieces"]
