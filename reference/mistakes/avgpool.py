"""Mistakes in average pooling (``torch.nn.AvgPool2d``, no seed equation), and the plain
AvgPool2D they are made in."""

from __future__ import annotations

import numpy as np

from reference.mistakes.entry import Catalogue, Mistake
from scratchnet.layers import AvgPool2D


class PlainAvgPool2D(AvgPool2D):
    """AvgPool2D in plain NumPy, one window at a time, on ``(N, C, H, W)`` arrays, with
    PyTorch's ``count_include_pad=True``: each window's sum over the padded input divided
    by ``divisor`` (the window's size, padding included); backward, each window's gradient
    divided the same way (``share``) and added to every element of the window
    (``route``), overlapping windows adding up."""

    def windows(self, H: int, W: int):
        """``(i, j, rows, cols)``: output position and its window's slices of the padded
        input."""
        (kh, kw), (sh, sw), (ph, pw) = self.kernel_size, self.stride, self.padding
        for i in range((H + 2 * ph - kh) // sh + 1):
            for j in range((W + 2 * pw - kw) // sw + 1):
                yield i, j, slice(i * sh, i * sh + kh), slice(j * sw, j * sw + kw)

    def divisor(self, rows: slice, cols: slice, H: int, W: int) -> int:
        """What a window's sum is divided by: its size, the padding counted."""
        return self.kernel_size[0] * self.kernel_size[1]

    def forward(self, x: np.ndarray) -> np.ndarray:
        """``x: (N, C, H, W)`` -> ``(N, C, H_out, W_out)``."""
        self._x_shape = x.shape
        N, C, H, W = x.shape
        ph, pw = self.padding
        padded = np.pad(x, ((0, 0), (0, 0), (ph, ph), (pw, pw)))
        cells = list(self.windows(H, W))
        y = np.zeros((N, C, cells[-1][0] + 1, cells[-1][1] + 1), x.dtype)
        for i, j, rows, cols in cells:
            y[:, :, i, j] = padded[:, :, rows, cols].sum(axis=(2, 3)) / self.divisor(
                rows, cols, H, W)
        return y

    def share(self, grad: np.ndarray, rows: slice, cols: slice, H: int, W: int) -> np.ndarray:
        """Each element's share of a window's gradient ``grad`` ``(N, C, 1, 1)``."""
        return grad / self.divisor(rows, cols, H, W)

    def route(self, grad_window: np.ndarray, share: np.ndarray) -> None:
        """Add ``share`` to every element of ``grad_window`` (a view of the padded input's
        gradient)."""
        grad_window += share

    def backward(self, grad_y: np.ndarray) -> np.ndarray:
        """``grad_y: (N, C, H_out, W_out)`` -> ``(N, C, H, W)``."""
        N, C, H, W = self._x_shape
        ph, pw = self.padding
        grad = np.zeros((N, C, H + 2 * ph, W + 2 * pw), grad_y.dtype)
        for i, j, rows, cols in self.windows(H, W):
            self.route(grad[:, :, rows, cols],
                       self.share(grad_y[:, :, i, j, None, None], rows, cols, H, W))
        return grad[:, :, ph : ph + H, pw : pw + W]


# Real code (ONNX's and WebDNN's count_include_pad=False, and hand-written loops that
# `mean` the window clipped to the input): the divisor counts only the input's elements
# in the window, not the padding's zeros; PyTorch's default counts them.
class PadExcluded(PlainAvgPool2D):
    def divisor(self, rows: slice, cols: slice, H: int, W: int) -> int:
        (ph, pw) = self.padding
        inside_rows = min(rows.stop, H + ph) - max(rows.start, ph)
        inside_cols = min(cols.stop, W + pw) - max(cols.start, pw)
        return inside_rows * inside_cols


# Real code: `dx[window] += dout[n, c, i, j]`: the backward gives every element of the
# window the whole gradient, not its 1/(kh*kw) share.
class GradNotSpread(PlainAvgPool2D):
    def share(self, grad: np.ndarray, rows: slice, cols: slice, H: int, W: int) -> np.ndarray:
        return grad


# Real code: `dx[n, c, rows, cols] = dout[n, c, i, j] / (kh * kw)`, an assignment: where
# windows overlap, the later window's share replaces the earlier one's.
class OverlapOverwrites(PlainAvgPool2D):
    def route(self, grad_window: np.ndarray, share: np.ndarray) -> None:
        grad_window[...] = share


CATALOGUE = Catalogue(
    "avgpool2d", PlainAvgPool2D, "layer check",
    shows_on=("padding > 0", "overlapping windows"),
    quantities=("output", "grad input"),
    mistakes=(
    Mistake(
        "avgpool-pad-excluded", "avgpool2d",
        "Windows reaching into the padding are divided by the number of input elements "
        "they hold, not by the window's size: PyTorch's default (count_include_pad=True) "
        "counts the padding's zeros.",
        None, PadExcluded, "output", "padding > 0"),
    Mistake(
        "avgpool-grad-not-spread", "avgpool2d",
        "The backward pass gives every element of a window the window's whole gradient "
        "instead of its 1/(kh*kw) share.",
        None, GradNotSpread, "grad input"),
    Mistake(
        "avgpool-overlap-overwrites", "avgpool2d",
        "The backward pass assigns each window's share instead of adding it: where "
        "windows overlap, the later one's replaces the earlier one's.",
        None, OverlapOverwrites, "grad input", "overlapping windows"),
))
