"""Element-wise activations: ReLU, eqs. (11)-(12), the seed's "Linear", eqs. (13)-(14), and
the ones courses assign next: Sigmoid, Tanh and LeakyReLU (PyTorch's formulas, no seed
number; ``scratchnet.naive`` quotes them)."""

from __future__ import annotations

import numpy as np

from scratchnet.layers.base import Layer


class Elementwise(Layer):
    """A layer that maps each value on its own: its output has its input's shape."""

    def output_shape(self, input_shape: tuple[int, ...]) -> tuple[int, ...]:
        return tuple(input_shape)


class ReLU(Elementwise):
    """``y = max(0, x)`` (11); ``dy/dx = 1 if x > 0 else 0`` (12).

    The seed leaves the derivative at exactly ``x = 0`` open; like PyTorch, it is 0 here.
    A NaN passes through forward and lets its gradient through backward, as in PyTorch.
    Shapes: any ``x`` -> ``y`` of the same shape.
    """

    kind = "relu"

    def __init__(self) -> None:
        super().__init__()
        self._y: np.ndarray | None = None

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


class Identity(Elementwise):
    """The seed's "Linear" activation: ``y = x`` (13), ``dy/dx = 1`` (14)."""

    kind = "identity"

    def forward(self, x: np.ndarray) -> np.ndarray:
        self._check_input(x, "of any shape")
        return self._remember_output(x)

    def backward(self, grad_y: np.ndarray) -> np.ndarray:
        self._check_grad(grad_y, self._out_shape)  # None until a forward
        return grad_y


class Sigmoid(Elementwise):
    """``y = 1 / (1 + exp(-x))``; ``dy/dx = y (1 - y)``, as ``torch.sigmoid``.

    Forward as ``naive.sigmoid_forward``, written so that no ``exp`` overflows: with
    ``e = exp(-|x|)`` (in (0, 1]), ``y = 1 / (1 + e)`` for ``x >= 0`` and ``e / (1 + e)``
    for ``x < 0`` (the same fraction, multiplied through by ``exp(x)``). At ``x = +-1000``
    it gives 1 and 0 without a warning. Backward as ``naive.sigmoid_backward``, from the
    output ``y``, which the forward pass keeps.

    Shapes: any ``x`` -> ``y`` of the same shape.
    """

    kind = "sigmoid"

    def __init__(self) -> None:
        super().__init__()
        self._y: np.ndarray | None = None

    def forward(self, x: np.ndarray) -> np.ndarray:
        self._check_input(x, "of any shape")
        e = np.exp(-np.abs(x))
        one = x.dtype.type(1)
        self._y = np.where(x >= 0, one / (one + e), e / (one + e))
        return self._remember_output(self._y)

    def backward(self, grad_y: np.ndarray) -> np.ndarray:
        self._check_grad(grad_y, self._y)
        return grad_y * ((1 - self._y) * self._y)


class Tanh(Elementwise):
    """``y = tanh(x)``; ``dy/dx = 1 - y^2``, as ``torch.tanh``.

    Forward as ``naive.tanh_forward`` (``np.tanh`` saturates to +-1 without overflow);
    backward as ``naive.tanh_backward``, from the output ``y``, which the forward pass keeps.

    Shapes: any ``x`` -> ``y`` of the same shape.
    """

    kind = "tanh"

    def __init__(self) -> None:
        super().__init__()
        self._y: np.ndarray | None = None

    def forward(self, x: np.ndarray) -> np.ndarray:
        self._check_input(x, "of any shape")
        self._y = np.tanh(x)
        return self._remember_output(self._y)

    def backward(self, grad_y: np.ndarray) -> np.ndarray:
        self._check_grad(grad_y, self._y)
        return grad_y * (1 - self._y * self._y)


class LeakyReLU(Elementwise):
    """``y = x`` for ``x > 0``, ``negative_slope * x`` otherwise; ``dy/dx = 1`` for ``x > 0``,
    ``negative_slope`` otherwise, as ``torch.nn.LeakyReLU``.

    Forward as ``naive.leaky_relu_forward``, backward as ``naive.leaky_relu_backward``.
    The derivative at ``x = 0`` is ``negative_slope``, as PyTorch's; it is read from the
    input, not the output, since a slope of 0 or below leaves the output's sign no guide.
    A NaN stays NaN and passes ``negative_slope`` times its gradient, as in PyTorch.

    Args:
        negative_slope: the slope for ``x <= 0`` (default 0.01, PyTorch's).

    Shapes: any ``x`` -> ``y`` of the same shape.
    """

    kind = "leaky-relu"

    def __init__(self, negative_slope: float = 0.01) -> None:
        super().__init__()
        if not np.isfinite(negative_slope):
            raise ValueError(f"LeakyReLU: negative_slope must be finite, got {negative_slope!r}")
        self.negative_slope = float(negative_slope)
        self._x: np.ndarray | None = None

    def extra_repr(self) -> str:
        return f"negative_slope={self.negative_slope}"

    def forward(self, x: np.ndarray) -> np.ndarray:
        self._check_input(x, "of any shape")
        self._x = x
        return self._remember_output(np.where(x > 0, x, x * x.dtype.type(self.negative_slope)))

    def backward(self, grad_y: np.ndarray) -> np.ndarray:
        self._check_grad(grad_y, self._x)
        slope = grad_y.dtype.type(self.negative_slope)
        return np.where(self._x > 0, grad_y, grad_y * slope)
