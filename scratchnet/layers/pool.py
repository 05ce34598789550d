"""MaxPool2D: the seed's pooling layer, equations (5)-(6); MaxPoolReLU: it fused with a ReLU."""

from __future__ import annotations

import numpy as np

from scratchnet import kernels
from scratchnet.layers.activations import ReLU
from scratchnet.layers.base import Layer


class MaxPool2D(Layer):
    """Max-pooling over ``k x k`` windows, as ``torch.nn.MaxPool2d`` (no padding).

    Forward, eq. (5): each output is the maximum of its window, ``Y = max(I_slide)``.
    Backward, eq. (6): ``dE/dX = Cache * dE/dY``, where the cache marks, for each window,
    the ONE element the maximum came from: the first maximum in row-major window order
    (PyTorch's rule; on ties, e.g. a window of zeros, only that first element gets the
    gradient). A NaN in a window is its maximum (the last NaN if several), as in PyTorch.

    Args:
        kernel_size: ``k``.
        stride: defaults to ``k``; a smaller stride gives overlapping windows, whose
            gradients add up. Sizes that do not divide are floored, as in PyTorch.

    Shapes: ``x: (N, C, H, W)`` -> ``y: (N, C, (H - k)//stride + 1, (W - k)//stride + 1)``.
    """

    kind = "maxpool2d"
    #: Whether the ReLU after the pooling runs in the same kernel call (``MaxPoolReLU``).
    relu_after = False

    def __init__(self, kernel_size: int = 2, stride: int | None = None) -> None:
        super().__init__()
        stride = kernel_size if stride is None else stride
        for arg, value in [("kernel_size", kernel_size), ("stride", stride)]:
            if int(value) != value or value < 1:
                raise ValueError(f"MaxPool2D: {arg} must be an integer >= 1, got {value!r}")
        kernels.check_pool_window(kernel_size, "MaxPool2D")
        self.kernel_size, self.stride = int(kernel_size), int(stride)
        self._cache: tuple | None = None

    def extra_repr(self) -> str:
        return f"kernel_size={self.kernel_size}, stride={self.stride}"

    def output_shape(self, input_shape: tuple[int, ...]) -> tuple[int, ...]:
        if len(input_shape) != 3:
            self._fail(f"expected an input of shape (C, H, W), got {input_shape}")
        C, H, W = input_shape
        k, s = self.kernel_size, self.stride
        if H < k or W < k:
            self._fail(f"input {H}x{W} is smaller than the {k}x{k} window")
        return (C, kernels.output_size(H, k, s), kernels.output_size(W, k, s))

    def forward(self, x: np.ndarray) -> np.ndarray:
        """``x: (N, C, H, W)`` -> ``y: (N, C, H_out, W_out)``; eq. (5)."""
        self._check_input(x, "(N, C, H, W)", 4)
        self.output_shape(x.shape[1:])
        y, winner = kernels.maxpool2d_forward(x, self.kernel_size, self.stride,
                                              need_winner=True, relu=self.relu_after)
        self._cache = (winner, x.shape)                     # the seed's "Cache"
        return self._remember_output(y)

    def infer(self, x: np.ndarray) -> np.ndarray:
        """``forward(x)`` without recording the winners: no backward may follow."""
        self._check_input(x, "(N, C, H, W)", 4)
        self.output_shape(x.shape[1:])
        y, _ = kernels.maxpool2d_forward(x, self.kernel_size, self.stride,
                                         need_winner=False, relu=self.relu_after)
        self._cache = None
        return y

    def backward(self, grad_y: np.ndarray) -> np.ndarray:
        """``grad_y: (N, C, H_out, W_out)`` -> ``grad_x: (N, C, H, W)``; eq. (6)."""
        self._check_grad(grad_y, self._cache)
        winner, x_shape = self._cache
        return kernels.maxpool2d_backward(grad_y, winner, x_shape, self.kernel_size,
                                          self.stride)


class MaxPoolReLU(MaxPool2D):
    """A MaxPool2D and the ReLU after it, as one layer: ``y = relu(maxpool(x))``.

    ``Sequential`` runs this in place of a ReLU directly followed by a MaxPool2D (see
    ``scratchnet.network.run_order``): the two commute, and one kernel call then pools and
    applies the ReLU to the pooled quarter of the data in place, and its winners record
    the ReLU's zero derivative (12), so the backward pass is the pooling's alone (6). The
    numbers are those of the two layers run one after the other, to the bit. It holds no
    parameters; ``relu`` and ``pool`` stay usable on their own.

    Shapes: as ``pool``.
    """

    kind = "maxpool2d+relu"      # no kind of its own: a network's run order, not a layer of it
    relu_after = True

    def __init__(self, relu: ReLU, pool: MaxPool2D) -> None:
        kernels.check_pool_window(pool.kernel_size, "MaxPoolReLU", relu=True)
        super().__init__(pool.kernel_size, pool.stride)
        self.relu, self.pool = relu, pool
        self.name = f"{relu.name}+{pool.name}"

    def forward(self, x: np.ndarray) -> np.ndarray:
        """As ``MaxPool2D.forward``, for the two layers; ``relu`` and ``pool`` learn that
        they ran here (``Layer.ran_elsewhere``), so a backward of their own says so."""
        y = super().forward(x)
        where = f"fused as {self.name} (MaxPoolReLU)"
        self.relu.ran_elsewhere(where)
        self.pool.ran_elsewhere(where)
        return y
