"""AvgPool2D against torch.nn.functional.avg_pool2d: square and oblong windows, overlaps,
padding (counted in the average, PyTorch's default), and its errors."""

from __future__ import annotations

import re
import tracemalloc

import numpy as np
import pytest
import torch.nn.functional as F
from hypothesis import given, settings

from scratchnet.layers import AvgPool2D, ShapeError
from tests.gradcheck import assert_matches_finite_differences, numerical_gradient
from tests.strategies import DTYPES, AvgPoolCase, avgpool_cases, dtypes, random_input, seeds
from tests.torch_check import assert_layer_matches_torch

rng = np.random.default_rng(0)


def torch_avgpool(kernel, stride=None, padding=0):
    return lambda x, p: F.avg_pool2d(x, kernel, stride, padding)


@settings(max_examples=120, deadline=None)
@given(case=avgpool_cases(), dtype=dtypes, seed=seeds)
def test_avgpool_matches_torch(case: AvgPoolCase, dtype, seed: int) -> None:
    x = random_input(np.random.default_rng(seed), case.shape, dtype)
    layer = AvgPool2D(case.kernel, case.stride, case.padding)
    assert_layer_matches_torch(layer, x, torch_avgpool(case.kernel, case.stride, case.padding),
                               seed)


AVGPOOL_CASES = {   # name: (x, kernel, stride, padding)
    "the seed's pool1 shape": (rng.standard_normal((2, 4, 24, 24)), 2, None, 0),
    "padding counted": (np.ones((1, 1, 3, 3)), 3, 1, 1),
    "odd sizes floored": (rng.standard_normal((2, 3, 7, 9)), 2, None, 0),
    "oblong window, own strides": (rng.standard_normal((1, 2, 6, 7)), (3, 2), (1, 2), (1, 0)),
    "whole image": (rng.standard_normal((3, 2, 5, 5)), 5, None, 2),
    "one example": (rng.standard_normal((1, 1, 4, 4)), 2, 1, 1),
    "empty batch": (np.zeros((0, 2, 4, 4)), 2, None, 0),
    "batch-last view": (rng.standard_normal((3, 6, 5, 2)).transpose(3, 0, 1, 2), 3, 2, 1),
    "extremes": (rng.choice([1e300, -1e300, 1e-300, 0.0], (2, 2, 4, 4)), 2, None, 0),
}


@pytest.mark.parametrize("x, k, s, p", AVGPOOL_CASES.values(), ids=AVGPOOL_CASES.keys())
@pytest.mark.parametrize("dtype", DTYPES)
def test_avgpool_edge_cases_match_torch(x: np.ndarray, k, s, p, dtype) -> None:
    if dtype == np.float32 and x.size and np.abs(x).max() > 1e30:
        x = x * 1e-270    # float32's range
    assert_layer_matches_torch(AvgPool2D(k, s, p), x.astype(dtype), torch_avgpool(k, s, p))


def test_the_padding_counts_in_the_average() -> None:
    """count_include_pad=True: a corner 3x3 window of ones padded by 1 holds 4 ones of 9."""
    y = AvgPool2D(3, 1, 1).forward(np.ones((1, 1, 3, 3)))
    np.testing.assert_allclose(y[0, 0], [[4 / 9, 6 / 9, 4 / 9], [6 / 9, 1, 6 / 9],
                                         [4 / 9, 6 / 9, 4 / 9]], rtol=1e-15)


def test_forward_without_padding_copies_nothing() -> None:
    """Unpadded, the forward pass sums windows of a view of x: it allocates the output (and
    its sum, 1/16 of x each for 4x4 windows), never a copy of x (NumPy reports its arrays
    to tracemalloc), so half of x's size is a bound with room on both sides."""
    x = rng.standard_normal((2, 2, 256, 256))
    layer = AvgPool2D(4)
    tracemalloc.start()
    try:
        layer.forward(x)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert peak < x.nbytes / 2, f"forward allocated {peak} bytes for an input of {x.nbytes}"


def test_avgpool_matches_finite_differences() -> None:
    layer = AvgPool2D(3, 2, 1)
    x = rng.standard_normal((2, 2, 7, 6))
    grad_y = rng.standard_normal(layer.forward(x).shape)
    grad_x = layer.backward(grad_y)
    numeric = numerical_gradient(lambda: float((layer.forward(x) * grad_y).sum()), x)
    assert_matches_finite_differences(grad_x, numeric, "avgpool grad x")


def test_avgpool_errors() -> None:
    layer = AvgPool2D(3)
    layer.name = "avgpool1"
    with pytest.raises(ShapeError, match=r"^avgpool1 \(AvgPool2D\): expected input \(N, C, H, "
                                         r"W\), got an array of shape \(4, 8, 8\)$"):
        layer.forward(np.zeros((4, 8, 8)))
    with pytest.raises(ShapeError, match=r"^avgpool1 \(AvgPool2D\): input 2x5 padded by 0x0 is "
                                         r"smaller than the 3x3 window$"):
        layer.forward(np.zeros((1, 1, 2, 5)))
    with pytest.raises(ShapeError, match="backward called before forward"):
        layer.backward(np.zeros((1, 1, 1, 1)))
    layer.forward(np.zeros((1, 1, 6, 6)))
    with pytest.raises(ShapeError, match=r"expected grad_y of shape \(1, 1, 2, 2\)"):
        layer.backward(np.zeros((1, 1, 6, 6)))


@pytest.mark.parametrize("layer, shape, message", [   # shape: one example's
    (AvgPool2D(2), [4, 8], "expected an input of shape (C, H, W), got (4, 8)"),
    (AvgPool2D(5, padding=1), (1, 2, 5), "input 2x5 padded by 1x1 is smaller than the 5x5 window"),
    (AvgPool2D(5, padding=1), (1, 5, 2), "input 5x2 padded by 1x1 is smaller than the 5x5 window"),
    (AvgPool2D(3, padding=1), (1, 0, 3), "input 0x3 padded by 1x1 is smaller than the 3x3 window"),
])
def test_output_shape_errors(layer: AvgPool2D, shape, message: str) -> None:
    with pytest.raises(ShapeError, match=f"^{re.escape('AvgPool2D: ' + message)}$"):
        layer.output_shape(shape)


@pytest.mark.parametrize("args, message", [
    ((0,), "kernel_size must be an integer >= 1 or a pair of them, got 0"),
    ((2, 0), "stride must be an integer >= 1 or a pair of them, got 0"),
    ((2, 1, -1), "padding must be an integer >= 0 or a pair of them, got -1"),
    ((2, 1, 2), "padding must be at most half the kernel size, got padding (2, 2) for "
                "kernel_size (2, 2)"),
    (((3, 2, 1),), "kernel_size must be an integer >= 1 or a pair of them, got (3, 2, 1)"),
])
def test_bad_arguments(args: tuple, message: str) -> None:
    with pytest.raises(ValueError, match=f"^{re.escape('AvgPool2D: ' + message)}$"):
        AvgPool2D(*args)


def test_defaults_repr_and_kind() -> None:
    assert repr(AvgPool2D(2)) == "AvgPool2D(kernel_size=(2, 2), stride=(2, 2), padding=(0, 0))"
    assert AvgPool2D(3, padding=1).output_shape((4, 12, 12)) == (4, 4, 4)
    assert AvgPool2D.kind == "avgpool2d"
