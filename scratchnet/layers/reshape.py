"""Flatten: the reshape between the last pooling layer and the first dense layer."""

from __future__ import annotations

import math

import numpy as np

from scratchnet.layers.base import Layer


class Flatten(Layer):
    """``x: (N, C, H, W)`` -> ``y: (N, C*H*W)``, in C order, as ``torch.nn.Flatten``.

    The backward pass reshapes the gradient back: ``grad_x: (N, C, H, W)``.
    """

    def __init__(self) -> None:
        super().__init__()
        self._in_shape: tuple[int, ...] | None = None

    def output_shape(self, input_shape: tuple[int, ...]) -> tuple[int, ...]:
        return (math.prod(input_shape),)

    def forward(self, x: np.ndarray) -> np.ndarray:
        if not isinstance(x, np.ndarray) or x.ndim < 2:
            self._fail(f"expected an input (N, ...) of rank >= 2, got {getattr(x, 'shape', x)}")
        self._check_input(x, "(N, ...)", x.ndim)
        self._in_shape = x.shape
        # Reshape the batch-last order (C, H, W, N) -> (C*H*W, N) and view it as (N, C*H*W):
        # no copy for scratchnet's batch-last arrays, and the same values for any layout.
        y = x.transpose(*range(1, x.ndim), 0).reshape(math.prod(x.shape[1:]), x.shape[0]).T
        return self._remember_output(y)

    def backward(self, grad_y: np.ndarray) -> np.ndarray:
        self._check_grad(grad_y, self._in_shape)
        N, *example = self._in_shape
        return grad_y.T.reshape(*example, N).transpose(len(example), *range(len(example)))
