"""Conv2D against torch.nn.functional.conv2d, finite differences, and its errors."""

from __future__ import annotations

import re

import numpy as np
import pytest
import torch.nn.functional as F
from hypothesis import given, settings

from scratchnet.layers import Conv2D, ShapeError
from tests.gradcheck import assert_matches_finite_differences, numerical_gradient
from tests.init_check import assert_initialized
from tests.strategies import ConvCase, conv_cases, dtypes, random_input, seeds
from tests.torch_check import assert_layer_matches_torch


def make_conv(case: ConvCase, dtype, seed: int = 0) -> Conv2D:
    return Conv2D(
        case.in_channels, case.out_channels, case.kernel_size, case.stride, case.padding,
        bias=case.bias, input_shape=case.input_shape[1:], dtype=dtype,
        rng=np.random.default_rng(seed),
    )


def torch_conv(case: ConvCase):
    def fn(x, p):
        tied = p["bias"] if case.bias == "tied" else None
        y = F.conv2d(x, p["weight"], tied, case.stride, case.padding)
        return y + p["bias"] if case.bias == "untied" else y

    return fn


@settings(max_examples=150, deadline=None)
@given(case=conv_cases(), dtype=dtypes, seed=seeds)
def test_conv_matches_torch(case: ConvCase, dtype, seed: int) -> None:
    rng = np.random.default_rng(seed)
    x = random_input(rng, case.input_shape, dtype)
    assert_layer_matches_torch(make_conv(case, dtype, seed), x, torch_conv(case), seed)


@pytest.mark.parametrize("case", [
    ConvCase(2, 1, 4, 5, 1, 0, 28, 28, "untied"),   # the seed's conv1
    ConvCase(3, 4, 8, 5, 1, 0, 12, 12, "untied"),   # the seed's conv2
    ConvCase(2, 4, 8, 5, 1, 0, 12, 12, "tied"),
    ConvCase(1, 3, 2, 3, 2, 1, 7, 8, "tied"),       # stride, padding, odd/even sizes
    ConvCase(2, 2, 3, 4, 3, 2, 9, 6, "untied"),
    ConvCase(1, 1, 1, 5, 1, 0, 5, 5, None),         # input exactly the kernel's size
    ConvCase(2, 2, 3, 2, 2, 1, 7, 9, "untied", 4),  # an oblong 2x4 kernel
])
def test_conv_cases_match_torch(case: ConvCase) -> None:
    for dtype in (np.float64, np.float32):
        x = random_input(np.random.default_rng(1), case.input_shape, dtype)
        assert_layer_matches_torch(make_conv(case, dtype), x, torch_conv(case))


@pytest.mark.parametrize(("batch", "kernel", "stride", "padding", "size"), [
    (3, (3, 2), 2, 0, (10, 9)),     # oblong kernel; the floor drops the last row and column
    (2, (2, 5), 3, 1, (11, 13)),    # stride 3, padding, and the floor drops an input row
    (1, (5, 3), 3, 2, (7, 12)),     # a single image
    (2, (2, 2), 2, 3, (4, 5)),      # padding past the kernel: some outputs read only zeros
    (0, (3, 3), 2, 1, (7, 7)),      # an empty batch
])
def test_oblong_kernels_and_dropped_rows_match_torch(batch, kernel, stride, padding, size
                                                     ) -> None:
    for dtype in (np.float64, np.float32):
        for bias in ("tied", "untied"):
            conv = Conv2D(2, 3, kernel, stride, padding, bias=bias, input_shape=(2, *size),
                          dtype=dtype, rng=np.random.default_rng(4))
            x = random_input(np.random.default_rng(5), (batch, 2, *size), dtype)
            case = ConvCase(batch, 2, 3, kernel[0], stride, padding, *size, bias)
            assert_layer_matches_torch(conv, x, torch_conv(case), seed=6)


def test_one_layer_serves_batches_of_any_size() -> None:
    # The layer keeps its scratch arrays between calls (kernels.Workspace): changing the
    # batch size must resize them, and an output handed out must not be overwritten later.
    conv = make_conv(ConvCase(1, 3, 4, 5, 1, 0, 14, 14, "untied"), np.float64)
    outputs = []
    for batch in (3, 1, 3, 8):
        case = ConvCase(batch, 3, 4, 5, 1, 0, 14, 14, "untied")
        x = random_input(np.random.default_rng(batch), case.input_shape, np.float64)
        assert_layer_matches_torch(conv, x, torch_conv(case), seed=batch)
        outputs.append((conv.forward(x).copy(), conv.forward(x)))
    for first, kept in outputs:
        assert np.array_equal(first, kept)


@pytest.mark.parametrize("case", [
    ConvCase(2, 2, 3, 3, 1, 0, 6, 5, "untied"),
    ConvCase(2, 2, 2, 3, 2, 1, 5, 6, "tied"),
    ConvCase(1, 1, 2, 2, 3, 2, 5, 5, None),
])
def test_conv_gradients_match_finite_differences(case: ConvCase) -> None:
    rng = np.random.default_rng(3)
    conv = make_conv(case, np.float64)
    x = rng.standard_normal(case.input_shape)
    grad_y = rng.standard_normal(conv.forward(x).shape)

    def f() -> float:  # a scalar whose gradient w.r.t. y is grad_y
        return float((conv.forward(x) * grad_y).sum())

    conv.forward(x)
    grad_x = conv.backward(grad_y)
    assert_matches_finite_differences(grad_x, numerical_gradient(f, x), "grad x")
    for key, param in conv.params.items():
        expected = conv.grads[key].copy()
        assert_matches_finite_differences(expected, numerical_gradient(f, param), key)


def test_writing_params_changes_the_layer() -> None:
    conv = Conv2D(1, 2, 3, dtype=np.float64, rng=np.random.default_rng(0))
    x = np.ones((1, 1, 3, 3))
    conv.params["weight"][...] = 0.0
    conv.params["bias"][...] = [1.5, -2.0]
    np.testing.assert_array_equal(conv.forward(x).ravel(), [1.5, -2.0])


def test_first_layer_can_skip_its_input_gradient() -> None:
    conv = Conv2D(1, 2, 3, rng=np.random.default_rng(0))
    x = np.random.default_rng(1).standard_normal((2, 1, 5, 5))
    g = np.random.default_rng(2).standard_normal(conv.forward(x).shape)
    conv.backward(g)
    full_w = conv.grads["weight"].copy()
    assert conv.backward(g, need_input_grad=False) is None
    np.testing.assert_array_equal(conv.grads["weight"], full_w)


def _seed_conv1() -> Conv2D:
    conv = Conv2D(1, 4, 5, bias="untied", input_shape=(1, 28, 28), rng=np.random.default_rng(0))
    conv.name = "conv1"
    return conv


@pytest.mark.parametrize("x, message", [
    (np.zeros((1, 28, 28)), r"conv1 \(Conv2D\): expected input \(N, 1, H, W\), got an array"),
    (np.zeros((2, 3, 28, 28)), r"conv1 \(Conv2D\): expected input of shape \(N, 1, 28, 28\)"),
    (np.zeros((2, 1, 20, 28)), r"conv1 \(Conv2D\): expected input of shape \(N, 1, 28, 28\)"),
    (np.zeros((2, 1, 28, 28), np.float32), r"conv1 \(Conv2D\): expected float64 input"),
    (np.zeros((2, 1, 28, 28), np.int64), r"expected float32 or float64 input, got int64"),
    ([[1.0]], r"conv1 \(Conv2D\): expected a NumPy array"),
])
def test_bad_input_is_named(x, message: str) -> None:
    with pytest.raises(ShapeError, match=message):
        _seed_conv1().forward(x)


def test_input_smaller_than_kernel() -> None:
    with pytest.raises(ShapeError, match=r"input 3x8 \(padded by 0\) is smaller than the 5x5"):
        Conv2D(1, 1, 5).forward(np.zeros((1, 1, 3, 8)))
    for h, w in [(2, 8), (8, 2)]:  # padded by 1 on each side: 4 < 5, but 2 + 3 is not
        with pytest.raises(ShapeError, match=f"^Conv2D: input {h}x{w} \\(padded by 1\\) is "
                                             "smaller than the 5x5 kernel$"):
            Conv2D(1, 1, 5, padding=1).forward(np.zeros((1, 1, h, w)))
    with pytest.raises(ShapeError, match="smaller than the 5x5 kernel"):
        Conv2D(1, 1, 5, bias="untied", input_shape=(1, 4, 4))


def test_backward_errors() -> None:
    conv = _seed_conv1()
    with pytest.raises(ShapeError, match=r"conv1 \(Conv2D\): backward called before forward"):
        conv.backward(np.zeros((2, 4, 24, 24)))
    conv.forward(np.zeros((2, 1, 28, 28)))
    with pytest.raises(ShapeError, match=r"expected grad_y of shape \(2, 4, 24, 24\)"):
        conv.backward(np.zeros((2, 4, 23, 24)))
    with pytest.raises(ShapeError, match="expected float64 grad_y like the output, got float32"):
        conv.backward(np.zeros((2, 4, 24, 24), np.float32))


def test_output_shape_errors() -> None:
    """What summary() asks per example: the rank and the channels are checked apart."""
    conv = Conv2D(1, 4, 5)
    for shape in [(1, 28), (3, 28, 28)]:
        message = f"Conv2D: expected an input of shape (1, H, W), got {shape}"
        with pytest.raises(ShapeError, match=f"^{re.escape(message)}$"):
            conv.output_shape(shape)


@pytest.mark.parametrize("kwargs, message", [
    ({"in_channels": 0}, "in_channels must be an integer >= 1, got 0"),
    ({"out_channels": 1.5}, "out_channels must be an integer >= 1, got 1.5"),
    ({"kernel_size": (3, 0)}, "kernel_size must be an integer >= 1, got 0"),
    ({"kernel_size": 0}, "kernel_size must be an integer >= 1, got 0"),
    ({"stride": 0}, "stride must be an integer >= 1, got 0"),
    ({"padding": -1}, "padding must be an integer >= 0, got -1"),
    ({"bias": "shared"}, "bias must be one of"),
    ({"bias": "untied"}, r"bias='untied' needs input_shape=\(C, H, W\): its bias has one "
                         r"value per output position$"),
    ({"dtype": np.int32}, "dtype must be float32 or float64, got int32"),
    ({"init": "xavier"}, "init must be 'torch' or 'he'"),
])
def test_bad_arguments(kwargs: dict, message: str) -> None:
    args = {"in_channels": 1, "out_channels": 2, "kernel_size": 3} | kwargs
    prefix = "" if "dtype" in kwargs else "Conv2D: "  # the dtype check is shared by the layers
    with pytest.raises(ValueError, match=f"^{prefix}{message}"):
        Conv2D(**args)


@pytest.mark.parametrize("init", ["torch", "he"])
@pytest.mark.parametrize("bias", ["tied", "untied"])
def test_initialization_scale(init: str, bias: str) -> None:
    conv = Conv2D(8, 64, 5, bias=bias, input_shape=(8, 12, 10), init=init,
                  rng=np.random.default_rng(0))
    assert_initialized(conv, init, fan_in=8 * 25)


@pytest.mark.parametrize("stride", [1, 2])
@pytest.mark.parametrize("bias", ["tied", "untied", None])
def test_a_float32_layer_computes_in_float32(stride: int, bias: str | None) -> None:
    """Outputs, the input gradient and the parameter gradients keep the layer's dtype (each
    stride takes its own way through the input gradient's scatter-add)."""
    rng = np.random.default_rng(4)
    conv = Conv2D(2, 3, 3, stride=stride, bias=bias, input_shape=(2, 9, 9), dtype=np.float32,
                  rng=rng)
    y = conv.forward(rng.standard_normal((4, 2, 9, 9)).astype(np.float32))
    grad_x = conv.backward(rng.standard_normal(y.shape).astype(np.float32))
    assert y.dtype == grad_x.dtype == np.float32
    assert all(g.dtype == np.float32 for g in conv.grads.values())
