"""Flatten: the reshape between the last pooling layer and the first dense layer."""

from __future__ import annotations

import math

import numpy as np

from scratchnet import kernels
from scratchnet.layers.base import Layer


class Flatten(Layer):
    """``x: (N, C, H, W)`` -> ``y: (N, C*H*W)``, in C order, as ``torch.nn.Flatten``.

    The backward pass reshapes the gradient back: ``grad_x: (N, C, H, W)``.
    """

    kind = "flatten"

    def __init__(self) -> None:
        super().__init__()
        self._x: np.ndarray | None = None

    def output_shape(self, input_shape: tuple[int, ...]) -> tuple[int, ...]:
        return (math.prod(input_shape),)

    def forward(self, x: np.ndarray) -> np.ndarray:
        self._check_input(x, "(N, ...) of rank >= 2")
        if x.ndim < 2:
            self._fail(f"expected an input (N, ...) of rank >= 2, got shape {x.shape}")
        self._x = x
        return self._remember_output(kernels.flatten(x))

    def backward(self, grad_y: np.ndarray) -> np.ndarray:
        self._check_grad(grad_y, self._x)
        return kernels.unflatten(grad_y, like=self._x)
