"""Dense against torch.nn.functional.linear, finite differences, and its errors."""

from __future__ import annotations

import re

import numpy as np
import pytest
import torch.nn.functional as F
from hypothesis import given, settings
from hypothesis import strategies as st

from scratchnet.layers import Dense, ShapeError
from tests.gradcheck import assert_matches_finite_differences, numerical_gradient
from tests.init_check import assert_initialized
from tests.strategies import dtypes, random_input, seeds
from tests.torch_check import assert_layer_matches_torch


def torch_linear(x, p):
    return F.linear(x, p["weight"], p["bias"])


@settings(max_examples=60, deadline=None)
@given(batch=st.integers(1, 8), n_in=st.integers(1, 200), n_out=st.integers(1, 40),
       dtype=dtypes, seed=seeds)
def test_dense_matches_torch(batch: int, n_in: int, n_out: int, dtype, seed: int) -> None:
    x = random_input(np.random.default_rng(seed), (batch, n_in), dtype)
    layer = Dense(n_in, n_out, dtype=dtype, rng=np.random.default_rng(seed))
    assert_layer_matches_torch(layer, x, torch_linear, seed)


def test_dense_takes_a_transposed_view() -> None:
    """Flatten hands Dense a batch-last (transposed) view; values must not depend on it."""
    x = np.random.default_rng(0).standard_normal((128, 6)).T  # (6, 128), not C-contiguous
    assert_layer_matches_torch(Dense(128, 10, rng=np.random.default_rng(1)), x, torch_linear)


def test_dense_gradients_match_finite_differences() -> None:
    rng = np.random.default_rng(0)
    layer = Dense(7, 4, rng=rng)
    x = rng.standard_normal((3, 7))
    grad_y = rng.standard_normal((3, 4))
    layer.forward(x)
    grad_x = layer.backward(grad_y)

    def f() -> float:
        return float((layer.forward(x) * grad_y).sum())

    assert_matches_finite_differences(grad_x, numerical_gradient(f, x), "grad x")
    for key, param in layer.params.items():
        expected = layer.grads[key].copy()
        assert_matches_finite_differences(expected, numerical_gradient(f, param), key)


def test_dense_errors() -> None:
    layer = Dense(128, 10)
    layer.name = "fc2"
    with pytest.raises(ShapeError, match=r"fc2 \(Dense\): expected input \(N, 128\), got an"):
        layer.forward(np.zeros((2, 8, 4, 4)))
    with pytest.raises(ShapeError, match=r"fc2 \(Dense\): expected an input of shape \(128,\)"):
        layer.forward(np.zeros((2, 127)))
    with pytest.raises(ShapeError, match="expected float64 input to match the layer's weights"):
        layer.forward(np.zeros((2, 128), np.float32))
    with pytest.raises(ShapeError, match="backward called before forward"):
        layer.backward(np.zeros((2, 10)))
    for kwargs, message in [
        ({"in_features": 0}, "in_features must be an integer >= 1, got 0"),
        ({"out_features": 2.5}, "out_features must be an integer >= 1, got 2.5"),
        ({"init": "xavier"}, "init must be 'torch' or 'he', got 'xavier'"),
    ]:
        with pytest.raises(ValueError, match=f"^{re.escape('Dense: ' + message)}$"):
            Dense(**({"in_features": 3, "out_features": 2} | kwargs))


@pytest.mark.parametrize("init", ["torch", "he"])
def test_initialization_scale(init: str) -> None:
    assert_initialized(Dense(200, 300, init=init, rng=np.random.default_rng(0)), init, 200)
