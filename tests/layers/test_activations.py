"""ReLU and Identity against torch: exactly-zero inputs, NaN, and their errors."""

from __future__ import annotations

import numpy as np
import pytest
import torch.nn.functional as F

from scratchnet.layers import Identity, ReLU, ShapeError
from tests.gradcheck import assert_matches_finite_differences, numerical_gradient
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
    for layer in (ReLU(), Identity()):
        kind = type(layer).__name__
        with pytest.raises(ShapeError, match=f"^{kind}: backward called before forward$"):
            layer.backward(np.zeros(3))
        with pytest.raises(ShapeError, match=f"^{kind}: expected a NumPy array of any shape, "
                                             "got list$"):
            layer.forward([1.0, 2.0])
    with pytest.raises(ShapeError, match="Identity: expected float32 or float64 input, got int64"):
        Identity().forward(np.zeros(3, np.int64))
    relu = ReLU()
    relu.forward(np.zeros((2, 3)))
    with pytest.raises(ShapeError, match=r"ReLU: expected grad_y of shape \(2, 3\)"):
        relu.backward(np.zeros((3, 2)))
