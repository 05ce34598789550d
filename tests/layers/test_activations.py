"""The activations against torch: ReLU and Identity (exactly-zero inputs, NaN), Sigmoid and
Tanh (saturation at +-1000 without a warning), LeakyReLU (zeros, slopes), and their errors."""

from __future__ import annotations

import warnings

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from hypothesis import given, settings

from scratchnet.layers import Identity, LeakyReLU, ReLU, ShapeError, Sigmoid, Tanh
from tests.gradcheck import assert_matches_finite_differences, numerical_gradient
from tests.strategies import DTYPES, activation_inputs, dtypes, seeds
from tests.torch_check import assert_layer_matches_torch

rng = np.random.default_rng(0)


@pytest.mark.parametrize("name, x", [
    ("normal 4-D", rng.standard_normal((3, 4, 5, 6))),
    ("normal 2-D", rng.standard_normal((7, 13))),
    ("exact zeros", np.array([[0.0, -0.0, 1.0, -1.0, 0.0]])),
    ("batch-last view", rng.standard_normal((4, 5, 6, 3)).transpose(3, 0, 1, 2)),
    ("NaN and inf", np.array([[np.nan, np.inf, -np.inf, 2.0]])),
])
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_relu_matches_torch(name: str, x: np.ndarray, dtype) -> None:
    assert_layer_matches_torch(ReLU(), x.astype(dtype), lambda x, p: F.relu(x))


def test_relu_derivative_at_zero_is_zero() -> None:
    relu = ReLU()
    relu.forward(np.array([[0.0, 1e-300, -1e-300]]))
    np.testing.assert_array_equal(relu.backward(np.ones((1, 3))), [[0.0, 1.0, 0.0]])


def test_relu_keeps_the_memory_layout() -> None:
    x = rng.standard_normal((4, 5, 6, 3)).transpose(3, 0, 1, 2)
    assert ReLU().forward(x).strides == x.strides


def test_relu_matches_finite_differences() -> None:
    x = rng.standard_normal((2, 9))
    relu, grad_y = ReLU(), rng.standard_normal((2, 9))
    relu.forward(x)
    numeric = numerical_gradient(lambda: float((relu.forward(x) * grad_y).sum()), x)
    assert_matches_finite_differences(relu.backward(grad_y), numeric, "relu")


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_identity_matches_torch(dtype) -> None:
    x = rng.standard_normal((5, 10)).astype(dtype)
    assert_layer_matches_torch(Identity(), x, lambda x, p: x * 1)


def test_activation_errors() -> None:
    for layer in (ReLU(), Identity(), Sigmoid(), Tanh(), LeakyReLU()):
        kind = type(layer).__name__
        with pytest.raises(ShapeError, match=f"^{kind}: backward called before forward$"):
            layer.backward(np.zeros(3))
        with pytest.raises(ShapeError, match=f"^{kind}: expected a NumPy array of any shape, "
                                             "got list$"):
            layer.forward([1.0, 2.0])
        layer.forward(np.zeros((2, 3)))
        with pytest.raises(ShapeError, match=fr"^{kind}: expected grad_y of shape \(2, 3\) "):
            layer.backward(np.zeros((3, 2)))
    with pytest.raises(ShapeError, match="Identity: expected float32 or float64 input, got int64"):
        Identity().forward(np.zeros(3, np.int64))
    relu = ReLU()
    relu.forward(np.zeros((2, 3)))
    with pytest.raises(ShapeError, match=r"ReLU: expected grad_y of shape \(2, 3\)"):
        relu.backward(np.zeros((3, 2)))


# ---- sigmoid, tanh, leaky ReLU ---------------------------------------------------------

NEW_ACTIVATIONS = {   # name: (layer factory, torch's function)
    "sigmoid": (Sigmoid, lambda x, p: torch.sigmoid(x)),
    "tanh": (Tanh, lambda x, p: torch.tanh(x)),
    "leaky-relu": (LeakyReLU, lambda x, p: F.leaky_relu(x, 0.01)),
    "leaky-relu 0.3": (lambda: LeakyReLU(0.3), lambda x, p: F.leaky_relu(x, 0.3)),
    "leaky-relu -0.5": (lambda: LeakyReLU(-0.5), lambda x, p: F.leaky_relu(x, -0.5)),
    "leaky-relu 0": (lambda: LeakyReLU(0.0), lambda x, p: F.leaky_relu(x, 0.0)),
}

ACTIVATION_CASES = {
    "normal 4-D, odd sizes": rng.standard_normal((3, 5, 7, 2)),
    "one example": rng.standard_normal((1, 9)),
    "empty batch": np.zeros((0, 4)),
    "exact zeros": np.array([[0.0, -0.0, 1.0, -1.0, 0.0]]),
    "batch-last view": rng.standard_normal((4, 5, 6, 3)).transpose(3, 0, 1, 2),
    "extremes +-1000": np.array([[1000.0, -1000.0, 40.0, -40.0, 710.0, -710.0, 1e-300]]),
    "NaN and inf": np.array([[np.nan, np.inf, -np.inf, 2.0]]),
}


@pytest.mark.parametrize("x", ACTIVATION_CASES.values(), ids=ACTIVATION_CASES.keys())
@pytest.mark.parametrize("name", NEW_ACTIVATIONS)
@pytest.mark.parametrize("dtype", DTYPES)
def test_new_activations_match_torch(name: str, x: np.ndarray, dtype) -> None:
    make, torch_fn = NEW_ACTIVATIONS[name]
    with warnings.catch_warnings():
        # No overflow or invalid-value warning, even at +-1000; only -inf * 0 (a slope of 0)
        # is NaN, as in PyTorch, and NumPy rightly warns of it.
        warnings.simplefilter("error" if np.isfinite(x).all() else "ignore")
        assert_layer_matches_torch(make(), x.astype(dtype), torch_fn)


@settings(max_examples=60, deadline=None)
@given(dtype=dtypes, seed=seeds, data=activation_inputs(np.float64))
def test_new_activations_match_torch_on_random_inputs(dtype, seed: int, data) -> None:
    for name, (make, torch_fn) in NEW_ACTIVATIONS.items():
        with warnings.catch_warnings():
            warnings.simplefilter("error")
            assert_layer_matches_torch(make(), data.astype(dtype), torch_fn, seed), name


def test_sigmoid_and_tanh_saturate_exactly() -> None:
    x = np.array([[-1000.0, 1000.0]])
    for dtype in DTYPES:
        np.testing.assert_array_equal(Sigmoid().forward(x.astype(dtype)), [[0.0, 1.0]])
        np.testing.assert_array_equal(Tanh().forward(x.astype(dtype)), [[-1.0, 1.0]])


def test_sigmoid_and_tanh_backward_use_the_output() -> None:
    """Both keep only their output: the backward is ``y (1 - y)`` and ``1 - y^2`` of it, so
    changing the input array after the forward pass changes nothing."""
    for layer, derivative in ((Sigmoid(), lambda y: y * (1 - y)), (Tanh(), lambda y: 1 - y * y)):
        x = rng.standard_normal((4, 3))
        y = layer.forward(x).copy()
        x[...] = 0.0
        grad_y = rng.standard_normal((4, 3))
        np.testing.assert_allclose(layer.backward(grad_y), grad_y * derivative(y), rtol=1e-15)


def test_leaky_relu_derivative_at_zero_is_the_slope() -> None:
    layer = LeakyReLU(0.2)
    layer.forward(np.array([[0.0, -0.0, 1e-300, -1e-300]]))
    np.testing.assert_array_equal(layer.backward(np.ones((1, 4))), [[0.2, 0.2, 1.0, 0.2]])


@pytest.mark.parametrize("layer", [Sigmoid(), Tanh(), LeakyReLU(0.1)], ids=repr)
def test_new_activations_match_finite_differences(layer) -> None:
    x = rng.standard_normal((3, 7)) * 3
    grad_y = rng.standard_normal((3, 7))
    layer.forward(x)
    grad_x = layer.backward(grad_y)
    numeric = numerical_gradient(lambda: float((layer.forward(x) * grad_y).sum()), x)
    assert_matches_finite_differences(grad_x, numeric, repr(layer))


def test_leaky_relu_arguments() -> None:
    assert repr(LeakyReLU()) == "LeakyReLU(negative_slope=0.01)"
    with pytest.raises(ValueError, match=r"^LeakyReLU: negative_slope must be finite, got nan$"):
        LeakyReLU(float("nan"))
