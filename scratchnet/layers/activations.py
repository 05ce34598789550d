"""Element-wise activations: ReLU, eqs. (11)-(12), and the seed's "Linear", eqs. (13)-(14)."""

from __future__ import annotations

import numpy as np

from scratchnet.layers.base import Layer


class ReLU(Layer):
    """``y = max(0, x)`` (11); ``dy/dx = 1 if x > 0 else 0`` (12).

    The seed leaves the derivative at exactly ``x = 0`` open; like PyTorch, it is 0 here.
    A NaN passes through forward and lets its gradient through backward, as in PyTorch.
    Shapes: any ``x`` -> ``y`` of the same shape.
    """

    kind = "relu"

    def __init__(self) -> None:
        super().__init__()
        self._y: np.ndarray | None = None

    def output_shape(self, input_shape: tuple[int, ...]) -> tuple[int, ...]:
        return tuple(input_shape)

    def forward(self, x: np.ndarray) -> np.ndarray:
        self._check_input(x, "of any shape")
        # np.maximum keeps a NaN, as torch.relu does.
        self._y = np.maximum(x, x.dtype.type(0))
        return self._remember_output(self._y)

    def backward(self, grad_y: np.ndarray) -> np.ndarray:
        self._check_grad(grad_y, self._y)
        # y != 0 is x > 0 (and NaN, whose gradient torch passes on); multiplying by the
        # mask is much faster than np.where.
        return grad_y * (self._y != 0)


class Identity(Layer):
    """The seed's "Linear" activation: ``y = x`` (13), ``dy/dx = 1`` (14)."""

    kind = "identity"

    def output_shape(self, input_shape: tuple[int, ...]) -> tuple[int, ...]:
        return tuple(input_shape)

    def forward(self, x: np.ndarray) -> np.ndarray:
        self._check_input(x, "of any shape")
        return self._remember_output(x)

    def backward(self, grad_y: np.ndarray) -> np.ndarray:
        self._check_grad(grad_y, self._out_shape)  # None until a forward
        return grad_y
