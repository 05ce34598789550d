"""Flatten: the reshape between the last pooling layer and the first dense layer."""

from __future__ import annotations

import math

import numpy as np

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
        # Gather (C, H, W, N) -> (C*H*W, N) and view it as (N, C*H*W): for scratchnet's
        # batch-last arrays the copy reads runs of N contiguous numbers (a batch-first
        # reshape would read them N apart), and the values are the same for any layout.
        y = x.transpose(*range(1, x.ndim), 0).reshape(math.prod(x.shape[1:]), x.shape[0]).T
        return self._remember_output(y)

    def backward(self, grad_y: np.ndarray) -> np.ndarray:
        self._check_grad(grad_y, self._x)
        # The gradient comes back in the memory layout of the input (empty_like keeps it),
        # so the layer before works on two arrays of one layout: NumPy's element-wise
        # operations are several times slower on operands laid out differently.
        grad_x = np.empty_like(self._x)
        N, *example = self._x.shape
        grad_x.transpose(*range(1, grad_x.ndim), 0)[...] = grad_y.T.reshape(*example, N)
        return grad_x
