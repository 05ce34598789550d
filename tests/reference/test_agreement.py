"""The agreement rule: absolute for small values, relative for large, NaN and inf aware."""

from __future__ import annotations

import numpy as np
import pytest

from reference.agreement import agree, assert_agree, errors, tolerance


@pytest.mark.parametrize("ours, ref, dtype, expected", [
    (np.array([1.0]), np.array([1.0 + 1e-13]), np.float64, True),
    (np.array([1.0]), np.array([1.0 + 1e-11]), np.float64, False),
    (np.array([1e6]), np.array([1e6 + 1e-7]), np.float64, True),     # relative for large
    (np.array([1e6]), np.array([1e6 + 1e-4]), np.float64, False),
    (np.array([1e-20]), np.array([2e-20]), np.float64, True),        # absolute for small
    (np.array([1.0]), np.array([1.000002]), np.float32, True),
    (np.array([1.0]), np.array([1.0001]), np.float32, False),
    (np.array([1.0]), np.array([1.001]), np.float32, False),
    (np.array([np.nan, 1.0]), np.array([np.nan, 1.0]), np.float64, True),
    (np.array([np.nan, 1.0]), np.array([0.0, 1.0]), np.float64, False),
    (np.array([np.inf, 1.0]), np.array([np.inf, 1.0]), np.float64, True),
    (np.array([np.inf]), np.array([-np.inf]), np.float64, False),
])
def test_agree(ours, ref, dtype, expected: bool) -> None:
    assert agree(ours, ref, dtype) is expected


def test_errors_and_tolerances() -> None:
    abs_err, rel_err, scale = errors(np.array([2.0, 10.0]), np.array([1.0, 10.0]))
    assert (abs_err, rel_err, scale) == (1.0, 1.0, 10.0)
    assert tolerance(np.float64) == 1e-12
    with pytest.raises(ValueError, match="shapes differ"):
        errors(np.zeros(2), np.zeros(3))


def test_assert_agree_names_what_failed() -> None:
    with pytest.raises(AssertionError, match=r"conv1.weight: max abs error 0.5 > tolerance"):
        assert_agree(np.array([0.5]), np.array([0.0]), np.float64, "conv1.weight")
