"""MaxPool2D against torch.nn.functional.max_pool2d: ties, overlaps, NaN, and its errors."""

from __future__ import annotations

import re

import numpy as np
import pytest
import torch.nn.functional as F
from hypothesis import given, settings

from scratchnet import kernels
from scratchnet.layers import MaxPool2D, MaxPoolReLU, ReLU, ShapeError
from tests.gradcheck import assert_matches_finite_differences, numerical_gradient
from tests.strategies import PoolCase, dtypes, pool_cases, random_input, seeds
from tests.torch_check import assert_layer_matches_torch


def torch_pool(k: int, s: int):
    return lambda x, p: F.max_pool2d(x, k, s)


@settings(max_examples=150, deadline=None)
@given(case=pool_cases(), dtype=dtypes, seed=seeds)
def test_pool_matches_torch(case: PoolCase, dtype, seed: int) -> None:
    x = random_input(np.random.default_rng(seed), case.shape, dtype, ties=case.ties)
    pool = MaxPool2D(case.kernel, case.stride)
    assert_layer_matches_torch(pool, x, torch_pool(case.kernel, case.stride), seed)


@settings(max_examples=100, deadline=None)
@given(case=pool_cases(), dtype=dtypes, seed=seeds)
def test_fused_relu_pool_matches_torch(case: PoolCase, dtype, seed: int) -> None:
    """MaxPoolReLU is torch's relu then max_pool2d (Sequential runs it for that pair)."""
    x = random_input(np.random.default_rng(seed), case.shape, dtype, ties=case.ties)
    fused = MaxPoolReLU(ReLU(), MaxPool2D(case.kernel, case.stride))
    assert_layer_matches_torch(
        fused, x, lambda x, p: F.max_pool2d(F.relu(x), case.kernel, case.stride), seed)


def digit_like(rng: np.random.Generator, shape, dtype=np.float64) -> np.ndarray:
    """Mostly exact zeros (the background of a digit after ReLU) with a few strokes."""
    x = np.zeros(shape, dtype)
    mask = rng.random(shape) < 0.15
    x[mask] = rng.random(mask.sum())
    return x


@pytest.mark.parametrize("name, x, k, s", [
    ("constant windows", np.full((2, 3, 6, 6), 0.5), 2, 2),
    ("all zeros", np.zeros((1, 2, 8, 8)), 2, 2),
    ("zero background", digit_like(np.random.default_rng(0), (4, 4, 24, 24)), 2, 2),
    ("overlapping, stride 1", digit_like(np.random.default_rng(1), (2, 2, 9, 9)), 3, 1),
    ("overlapping ties", np.full((1, 1, 7, 7), 2.0), 3, 2),
    ("odd size floored", np.random.default_rng(2).standard_normal((2, 2, 7, 9)), 2, 2),
    ("stride beyond window", np.random.default_rng(3).standard_normal((2, 1, 11, 10)), 2, 3),
    ("window 1", np.random.default_rng(4).standard_normal((1, 2, 3, 3)), 1, 1),
    ("whole image", np.random.default_rng(5).integers(0, 2, (3, 2, 4, 4)).astype(float), 4, 4),
])
def test_pool_edge_cases_match_torch(name: str, x: np.ndarray, k: int, s: int) -> None:
    for dtype in (np.float64, np.float32):
        assert_layer_matches_torch(MaxPool2D(k, s), x.astype(dtype), torch_pool(k, s))


def test_gradient_goes_to_the_first_maximum_only() -> None:
    pool = MaxPool2D(2)
    pool.forward(np.array([[[[1.0, 3.0], [3.0, 3.0]]]]))
    grad_x = pool.backward(np.array([[[[5.0]]]]))
    np.testing.assert_array_equal(grad_x, [[[[0.0, 5.0], [0.0, 0.0]]]])


def test_nan_wins_its_window_as_in_torch() -> None:
    nan = np.nan
    x = np.array([[[[1.0, nan, 2.0, 0.0], [nan, 0.0, 1.0, 3.0]]]])
    assert_layer_matches_torch(MaxPool2D(2), x, torch_pool(2, 2))
    pool = MaxPool2D(2)
    assert np.isnan(pool.forward(x)[0, 0, 0, 0])
    np.testing.assert_array_equal(pool.backward(np.ones((1, 1, 1, 2)))[0, 0, :, :2],
                                  [[0.0, 0.0], [1.0, 0.0]])  # the last NaN, as torch


def test_pool_gradient_matches_finite_differences() -> None:
    rng = np.random.default_rng(0)
    x = rng.standard_normal((2, 2, 7, 7))  # distinct values: no ties, so differentiable
    pool = MaxPool2D(3, 2)
    grad_y = rng.standard_normal(pool.forward(x).shape)
    grad_x = pool.backward(grad_y)
    numeric = numerical_gradient(lambda: float((pool.forward(x) * grad_y).sum()), x)
    assert_matches_finite_differences(grad_x, numeric, "maxpool grad x")


def test_pool_errors() -> None:
    pool = MaxPool2D(2)
    pool.name = "pool1"
    with pytest.raises(ShapeError, match=r"pool1 \(MaxPool2D\): expected input \(N, C, H, W\)"):
        pool.forward(np.zeros((4, 24, 24)))
    with pytest.raises(ShapeError, match=r"pool1 \(MaxPool2D\): input 1x5 is smaller than"):
        pool.forward(np.zeros((1, 1, 1, 5)))
    with pytest.raises(ShapeError, match="backward called before forward"):
        pool.backward(np.zeros((1, 1, 1, 1)))
    pool.forward(np.zeros((2, 4, 24, 24)))
    with pytest.raises(ShapeError, match=r"expected grad_y of shape \(2, 4, 12, 12\)"):
        pool.backward(np.zeros((2, 4, 24, 24)))
    with pytest.raises(ShapeError, match=r"^pool1 \(MaxPool2D\): expected an input of shape "
                                         r"\(C, H, W\), got \(24, 24\)$"):
        pool.output_shape((24, 24))  # what summary() asks, per example


@pytest.mark.parametrize("args, message", [
    ((0,), "kernel_size must be an integer >= 1, got 0"),
    ((2, 0), "stride must be an integer >= 1, got 0"),
    ((2, 1.5), "stride must be an integer >= 1, got 1.5"),
    ((17,), "kernel_size must be at most 16, got 17"),
])
def test_bad_arguments(args: tuple, message: str) -> None:
    with pytest.raises(ValueError, match=f"^{re.escape('MaxPool2D: ' + message)}$"):
        MaxPool2D(*args)


def test_default_window_is_2_by_2() -> None:
    assert repr(MaxPool2D()) == "MaxPool2D(kernel_size=2, stride=2)"
    assert repr(MaxPool2D(3, 1)) == "MaxPool2D(kernel_size=3, stride=1)"
    assert MaxPool2D(16).forward(np.zeros((1, 1, 16, 16))).shape == (1, 1, 1, 1)


def test_infer_checks_its_input_and_forgets_the_last_forward() -> None:
    pool = MaxPool2D(2)
    with pytest.raises(ShapeError, match=r"^MaxPool2D: expected input \(N, C, H, W\), got an "
                                         r"array of shape \(4, 24, 24\)$"):
        pool.infer(np.zeros((4, 24, 24)))
    x = np.zeros((1, 1, 4, 4))
    pool.forward(x)
    pool.infer(x)  # no backward may follow an infer: its winners are not kept
    with pytest.raises(ShapeError, match=r"^MaxPool2D: backward called before forward$"):
        pool.backward(np.zeros((1, 1, 2, 2)))


def test_kernel_takes_any_memory_layout() -> None:
    # The layers hand the kernels contiguous (H, C, W, N) arrays; other callers may not.
    x = np.random.default_rng(0).standard_normal((3, 9, 9, 8))[..., ::2]
    assert not x.flags.c_contiguous
    for got, expected in zip(kernels.maxpool_forward(x, 2, 2),
                             kernels.maxpool_forward(np.ascontiguousarray(x), 2, 2), strict=True):
        np.testing.assert_array_equal(got, expected)


def test_fused_relu_needs_a_free_winner_value() -> None:
    # 16 x 16 windows use every uint8 value as a position: none is left for NO_WINNER.
    with pytest.raises(ValueError, match="MaxPoolReLU: kernel_size must be at most 15, got 16"):
        MaxPoolReLU(ReLU(), MaxPool2D(16))
    with pytest.raises(ValueError, match="maxpool_forward: kernel_size must be at most 15, got 16"):
        kernels.maxpool_forward(np.zeros((16, 1, 16, 1)), 16, 16, relu=True)


def test_fused_relu_backward_before_forward() -> None:
    with pytest.raises(ShapeError, match=r"relu1\+pool1 \(MaxPoolReLU\): backward called"):
        pool, relu = MaxPool2D(2), ReLU()
        pool.name, relu.name = "pool1", "relu1"
        MaxPoolReLU(relu, pool).backward(np.zeros((1, 1, 1, 1)))


def test_the_fused_layers_own_backward_says_they_ran_fused() -> None:
    """In a network a ReLU before a MaxPool2D runs as one MaxPoolReLU (run_order): the two
    layers' own forward did not run, so their own backward says so (Layer.ran_elsewhere)
    until it does."""
    relu, pool = ReLU(), MaxPool2D(2)
    relu.name, pool.name = "relu1", "pool1"
    x = np.random.default_rng(0).standard_normal((2, 3, 4, 4))
    pool.forward(x)                                      # a forward of its own, then fused
    MaxPoolReLU(relu, pool).forward(x)
    message = (r"backward cannot follow: the last forward ran inside a network, fused as "
               r"relu1\+pool1 \(MaxPoolReLU\); call the network's backward, or this layer's "
               r"own forward first$")
    for layer, label in ((relu, r"relu1 \(ReLU\)"), (pool, r"pool1 \(MaxPool2D\)")):
        with pytest.raises(ShapeError, match=rf"^{label}: {message}"):
            layer.backward(np.zeros((2, 3, 2, 2)))
    assert pool.backward(pool.forward(x)).shape == x.shape


def test_empty_batch() -> None:
    for layer in (MaxPool2D(2), MaxPoolReLU(ReLU(), MaxPool2D(2))):
        y = layer.forward(np.zeros((0, 2, 4, 4)))
        assert y.shape == (0, 2, 2, 2) and layer.backward(y).shape == (0, 2, 4, 4)
