"""Eqs. (23)-(25): the pieces of a sum of shifted ReLUs, exactly, and the seed's eq. (24).

Shifts, coefficients and points are small integers and eighths, so every value below is
exact in float64: the comparisons are equalities, not tolerances.
"""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings

from reference.agreement import tolerance
from reports.relu_sums import (
    EQ23_COEFFICIENTS,
    EQ23_SHIFTS,
    Piece,
    evaluate_pieces,
    fit_relu_sum,
    jumps,
    pieces,
    relu_sum,
    relu_sum_network,
    seed_eq24_pieces,
)
from scratchnet import Dense, ReLU
from tests.strategies import relu_sum_cases

INF = float("inf")
EIGHTHS = np.arange(-12 * 8, 12 * 8 + 1) / 8      # -12 to 12 in steps of 1/8


def test_eq23_has_the_pieces_slopes_and_breakpoints_of_the_issue() -> None:
    """0 (x < 0), x, -2x + 6, 3x - 14, -3x + 22; slopes 0, 1, -2, 3, -3; breaks at 0-6."""
    assert pieces(EQ23_SHIFTS, EQ23_COEFFICIENTS) == [
        Piece(-INF, 0.0, 0.0, 0.0),
        Piece(0.0, 2.0, 1.0, 0.0),
        Piece(2.0, 4.0, -2.0, 6.0),
        Piece(4.0, 6.0, 3.0, -14.0),
        Piece(6.0, INF, -3.0, 22.0),
    ]


def test_pieces_are_written_as_their_lines() -> None:
    formulas = [p.formula() for p in pieces(EQ23_SHIFTS, EQ23_COEFFICIENTS)]
    assert formulas == ["0", "x", "-2x + 6", "3x - 14", "-3x + 22"]
    assert Piece(0, 1, -1.0, 0.5).formula() == "-x + 0.5"
    assert Piece(0, 1, 0.0, -2.0).formula() == "-2"


def test_eq23_computed_by_scratchnet_layers_is_its_pieces() -> None:
    """The network (Dense, ReLU, Dense) gives exactly the pieces' values, breakpoints
    included, and the values at the breakpoints the issue implies: 0, 2, -2, 4."""
    f = relu_sum(EIGHTHS, EQ23_SHIFTS, EQ23_COEFFICIENTS)
    np.testing.assert_array_equal(f, evaluate_pieces(pieces(EQ23_SHIFTS, EQ23_COEFFICIENTS),
                                                     EIGHTHS))
    np.testing.assert_array_equal(relu_sum(np.array(EQ23_SHIFTS), EQ23_SHIFTS,
                                           EQ23_COEFFICIENTS), [0.0, 2.0, -2.0, 4.0])
    net = relu_sum_network(EQ23_SHIFTS, EQ23_COEFFICIENTS)
    assert [type(layer) for layer in net] == [Dense, ReLU, Dense]


def test_eq23_is_continuous() -> None:
    """No jump at any breakpoint, and the network's values just left and right of each
    breakpoint close in on the value there (by 2**-20 times the slopes)."""
    eq23 = pieces(EQ23_SHIFTS, EQ23_COEFFICIENTS)
    assert jumps(eq23) == [0.0, 0.0, 0.0, 0.0]
    h = 2.0**-20
    for s, left, right in zip(EQ23_SHIFTS, eq23, eq23[1:], strict=False):
        around = relu_sum(np.array([s - h, s, s + h]), EQ23_SHIFTS, EQ23_COEFFICIENTS)
        np.testing.assert_array_equal(around - around[1], [-left.slope * h, 0.0,
                                                           right.slope * h])


def test_eq24_as_printed_has_the_slopes_but_jumps_at_every_breakpoint() -> None:
    """x, x - 3x, x - 3x + 5x, x - 3x + 5x - 6x: slopes 1, -2, 3, -3 and no intercepts,
    so it jumps by c_i s_i = -6, +20, -36 at 2, 4, 6 and differs from eq. (23) on every
    piece but the first."""
    printed = seed_eq24_pieces()
    assert [(p.start, p.end, p.slope, p.intercept) for p in printed] == [
        (0.0, 2.0, 1.0, 0.0), (2.0, 4.0, -2.0, 0.0), (4.0, 6.0, 3.0, 0.0),
        (6.0, INF, -3.0, 0.0)]
    assert jumps(printed) == [-6.0, 20.0, -36.0]
    assert jumps(printed) == [c * s for c, s in zip(EQ23_COEFFICIENTS[1:], EQ23_SHIFTS[1:],
                                                   strict=True)]
    x = EIGHTHS[EIGHTHS >= 0]
    differs = evaluate_pieces(printed, x) != relu_sum(x, EQ23_SHIFTS, EQ23_COEFFICIENTS)
    np.testing.assert_array_equal(differs, x >= 2)
    assert np.isnan(evaluate_pieces(printed, np.array([-1.0]))).all()   # says nothing there


@settings(max_examples=50, deadline=None)
@given(relu_sum_cases())
def test_any_sum_of_shifted_relus_is_its_pieces_and_continuous(case) -> None:
    """Eq. (25) in general: the network equals the pieces everywhere, the pieces join,
    and at each breakpoint the slope changes by that ReLU's coefficient."""
    shifts, coefficients, bias = case
    found = pieces(shifts, coefficients, bias)
    assert [p.start for p in found[1:]] == shifts
    np.testing.assert_array_equal(relu_sum(EIGHTHS, shifts, coefficients, bias),
                                  evaluate_pieces(found, EIGHTHS))
    assert jumps(found) == [0.0] * len(shifts)
    assert np.diff([p.slope for p in found]).tolist() == coefficients
    assert found[0] == Piece(-INF, shifts[0], 0.0, bias)


@settings(max_examples=50, deadline=None)
@given(relu_sum_cases())
def test_least_squares_recovers_a_sum_of_relus(case) -> None:
    """A target that is itself eq. (25) with the fitted shifts is fitted exactly: the
    coefficients come back to rounding. Bound: the float64 rule, 1e-12 times their size
    (measured over 3,000 such cases: at most 1.9e-14; a wrong feature or a lost bias
    column is off by far more than 1e-6)."""
    shifts, coefficients, bias = case
    x = np.linspace(shifts[0] - 1, shifts[-1] + 1, 201)   # points on every piece
    fitted_bias, fitted = fit_relu_sum(x, relu_sum(x, shifts, coefficients, bias), shifts)
    scale = max(1.0, *map(abs, coefficients), abs(bias))
    np.testing.assert_allclose(fitted, coefficients, rtol=0, atol=tolerance(np.float64) * scale)
    assert abs(fitted_bias - bias) <= tolerance(np.float64) * scale


@pytest.mark.parametrize(("shifts", "coefficients", "pattern"), [
    ([0.0, 2.0], [1.0], r"as many shifts as coefficients"),
    ([], [], r"at least one"),
    ([0.0, 0.0], [1.0, 1.0], r"expected increasing shifts, got \[0\.0, 0\.0\]"),
    ([2.0, 1.0], [1.0, 1.0], r"expected increasing shifts"),
], ids=["lengths-differ", "none", "equal-shifts", "decreasing-shifts"])
def test_bad_shifts_are_named(shifts, coefficients, pattern) -> None:
    with pytest.raises(ValueError, match=pattern):
        pieces(shifts, coefficients)
    with pytest.raises(ValueError, match=pattern):
        relu_sum_network(shifts, coefficients)
