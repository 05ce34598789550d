"""What every layer shares (scratchnet/layers/base.py): its repr, its label, and the input
checks, each error message checked whole."""

from __future__ import annotations

import re

import numpy as np
import pytest

from scratchnet.layers import Dense, Identity, ReLU, ShapeError


def test_repr_and_label() -> None:
    relu = ReLU()
    assert repr(relu) == "ReLU()" and relu.label == "ReLU"
    relu.name = "relu1"
    assert relu.label == "relu1 (ReLU)"
    assert repr(Dense(3, 2)) == "Dense(3, 2)"


def _fc1() -> Dense:
    layer = Dense(3, 2, dtype=np.float32)
    layer.name = "fc1"
    return layer


@pytest.mark.parametrize("x, message", [
    ([[1.0, 2.0, 3.0]], "expected a NumPy array (N, 3), got list"),
    (np.zeros(3, np.float32), "expected input (N, 3), got an array of shape (3,)"),
    (np.zeros((2, 3), np.int32), "expected float32 or float64 input, got int32"),
    (np.zeros((2, 3)), "expected float32 input to match the layer's weights, got float64 "
                       "(convert with x.astype(np.float32))"),
])
def test_input_errors_name_the_layer_and_what_was_expected(x, message: str) -> None:
    with pytest.raises(ShapeError, match=f"^{re.escape('fc1 (Dense): ' + message)}$"):
        _fc1().forward(x)


@pytest.mark.parametrize("grad_y, message", [
    (None, "backward called before forward"),
    ([[1.0, 2.0]], "expected grad_y as a NumPy array, got list"),
    (np.zeros((2, 1), np.float32),
     "expected grad_y of shape (4, 2) (the last forward's output), got (2, 1)"),
    (np.zeros((4, 2)), "expected float32 grad_y like the output, got float64"),
])
def test_gradient_errors_name_the_layer_and_what_was_expected(grad_y, message: str) -> None:
    layer = _fc1()
    if grad_y is not None:
        layer.forward(np.zeros((4, 3), np.float32))
    with pytest.raises(ShapeError, match=f"^{re.escape('fc1 (Dense): ' + message)}$"):
        layer.backward(np.zeros((4, 2), np.float32) if grad_y is None else grad_y)


def test_layers_without_weights_take_either_dtype() -> None:
    for layer in (ReLU(), Identity()):
        for dtype in (np.float32, np.float64):
            assert layer.forward(np.ones((2, 3), dtype)).dtype == dtype
