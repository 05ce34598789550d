"""AvgPool2D: average pooling, as ``torch.nn.AvgPool2d`` (PyTorch's formula, no seed number)."""

from __future__ import annotations

import numpy as np
from numpy.lib.stride_tricks import sliding_window_view

from scratchnet import kernels
from scratchnet.layers.base import Layer


def as_pair(value: int | tuple[int, int], name: str, low: int) -> tuple[int, int]:
    """``k`` -> ``(k, k)``, a pair as it is; ValueError unless both are integers >= ``low``."""
    pair = (value, value) if np.isscalar(value) else tuple(value)
    if len(pair) != 2 or any(int(v) != v or v < low for v in pair):
        raise ValueError(f"AvgPool2D: {name} must be an integer >= {low} or a pair of them, "
                         f"got {value!r}")
    return int(pair[0]), int(pair[1])


class AvgPool2D(Layer):
    """Average pooling over ``kh x kw`` windows, as ``torch.nn.AvgPool2d`` with its defaults
    (``count_include_pad=True``, ``ceil_mode=False``).

    Forward (``naive.avgpool_forward``): the input is padded with ``padding`` zeros on
    every side, and each output is the mean of its window, the padding's zeros included::

        y[n, c, h, w] = 1/(kh*kw) sum_{m < kh, l < kw} x_pad[n, c, s_h*h + m, s_w*w + l]

    Backward (``naive.avgpool_backward``): each output's gradient goes back to every
    element of its window, divided by ``kh * kw``; where windows overlap the gradients add
    up, and what reaches the padding is dropped.

    The forward pass sums each window through a sliding-window view (no copy); the
    backward pass loops over the ``kh * kw`` offsets of a window, each adding one strided
    slice of the gradient at once.

    Args:
        kernel_size: ``k`` or ``(kh, kw)``.
        stride: defaults to ``kernel_size``; an int or a pair.
        padding: zeros added on each side, at most half the window (PyTorch's limit).

    Shapes: ``x: (N, C, H, W)`` -> ``y: (N, C, (H + 2 p_h - kh) // s_h + 1,
    (W + 2 p_w - kw) // s_w + 1)``.
    """

    kind = "avgpool2d"

    def __init__(self, kernel_size: int | tuple[int, int], stride: int | tuple[int, int] | None
                 = None, padding: int | tuple[int, int] = 0) -> None:
        super().__init__()
        self.kernel_size = as_pair(kernel_size, "kernel_size", 1)
        self.stride = as_pair(kernel_size if stride is None else stride, "stride", 1)
        self.padding = as_pair(padding, "padding", 0)
        if any(2 * p > k for p, k in zip(self.padding, self.kernel_size, strict=True)):
            raise ValueError(f"AvgPool2D: padding must be at most half the kernel size, got "
                             f"padding {self.padding} for kernel_size {self.kernel_size}")
        self._x_shape: tuple[int, ...] | None = None

    def extra_repr(self) -> str:
        return f"kernel_size={self.kernel_size}, stride={self.stride}, padding={self.padding}"

    def output_shape(self, input_shape: tuple[int, ...]) -> tuple[int, ...]:
        if len(input_shape) != 3:
            self._fail(f"expected an input of shape (C, H, W), got {tuple(input_shape)}")
        C, H, W = input_shape
        (kh, kw), (sh, sw), (ph, pw) = self.kernel_size, self.stride, self.padding
        if H + 2 * ph < kh or W + 2 * pw < kw:
            self._fail(f"input {H}x{W} padded by {ph}x{pw} is smaller than the {kh}x{kw} "
                       "window")
        return (C, kernels.output_size(H, kh, sh, ph), kernels.output_size(W, kw, sw, pw))

    def _padded(self, x: np.ndarray) -> np.ndarray:
        ph, pw = self.padding
        return np.pad(x, ((0, 0), (0, 0), (ph, ph), (pw, pw))) if ph or pw else x

    def forward(self, x: np.ndarray) -> np.ndarray:
        """``x: (N, C, H, W)`` -> ``y: (N, C, H_out, W_out)``: each window's mean."""
        self._check_input(x, "(N, C, H, W)", 4)
        _, H_out, W_out = self.output_shape(x.shape[1:])
        (kh, kw), (sh, sw) = self.kernel_size, self.stride
        windows = sliding_window_view(self._padded(x), (kh, kw), axis=(2, 3))
        windows = windows[:, :, : sh * (H_out - 1) + 1 : sh, : sw * (W_out - 1) + 1 : sw]
        self._x_shape = x.shape
        return self._remember_output(windows.sum(axis=(4, 5)) / x.dtype.type(kh * kw))

    def backward(self, grad_y: np.ndarray) -> np.ndarray:
        """``grad_y: (N, C, H_out, W_out)`` -> ``grad_x: (N, C, H, W)``."""
        self._check_grad(grad_y, self._x_shape)
        N, C, H, W = self._x_shape
        (kh, kw), (sh, sw), (ph, pw) = self.kernel_size, self.stride, self.padding
        H_out, W_out = grad_y.shape[2:]
        share = grad_y / grad_y.dtype.type(kh * kw)
        grad = np.zeros((N, C, H + 2 * ph, W + 2 * pw), grad_y.dtype)
        for i in range(kh):
            for j in range(kw):
                grad[:, :, i : i + sh * H_out : sh, j : j + sw * W_out : sw] += share
        return grad[:, :, ph : ph + H, pw : pw + W]
