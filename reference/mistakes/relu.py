"""Mistakes in a ReLU, eqs. (11)-(12), and the plain ReLU they are made in."""

from __future__ import annotations

import numpy as np

from reference.mistakes.entry import Catalogue, Mistake
from scratchnet import naive
from scratchnet.layers import ReLU


class PlainReLU(ReLU):
    """``y = max(0, x)`` (11), ``dy/dx = 1 if x > 0 else 0`` (12), keeping the input."""

    def forward(self, x: np.ndarray) -> np.ndarray:
        self._x = x
        return naive.relu_forward(x).astype(x.dtype, copy=False)  # naive computes in float64

    def backward(self, grad_y: np.ndarray) -> np.ndarray:
        return naive.relu_backward(self._x, grad_y).astype(grad_y.dtype, copy=False)


class GradOneAtZero(PlainReLU):
    def backward(self, grad_y: np.ndarray) -> np.ndarray:
        return grad_y * (self._x >= 0)


class GradFromOutputSign(PlainReLU):
    def backward(self, grad_y: np.ndarray) -> np.ndarray:
        return grad_y * (grad_y > 0)


CATALOGUE = Catalogue(
    "relu", PlainReLU, "layer check",
    shows_on=("exact zeros",),
    quantities=("output", "grad input"),
    mistakes=(
    Mistake(
        "relu-grad-one-at-zero", "relu",
        "The ReLU's derivative is 1 at exactly 0, where PyTorch's is 0 (the seed's (12) "
        "leaves x = 0 open).",
        "(12)", GradOneAtZero, "grad input", "exact zeros"),
    Mistake(
        "relu-grad-from-output-sign", "relu",
        "The backward pass masks the upstream gradient by its own sign instead of by the "
        "sign of the layer's input.",
        "(12)", GradFromOutputSign, "grad input", in_network="relu3"),
))
