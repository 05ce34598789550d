"""Mistakes in a max-pooling layer, eqs. (5)-(6), and the plain MaxPool2D they are made in."""

from __future__ import annotations

import math

import numpy as np

from reference.mistakes.entry import Mistake
from scratchnet.layers import Layer, MaxPool2D


class PlainMaxPool2D(MaxPool2D):
    """MaxPool2D written from eqs. (5)-(6) in plain NumPy, one window at a time, on
    ``(N, C, H, W)`` arrays; arguments and results as MaxPool2D.

    Forward (5): each output is its window's maximum. Backward (6): each window's
    gradient goes to the window's first maximum in row-major order (the seed's Cache, with
    PyTorch's rule for ties), and where windows overlap the shares add up.
    """

    infer = Layer.infer       # forward, as for any layer (MaxPool2D's infer calls the kernels)

    def out_size(self, n: int) -> int:
        """Windows along a side of ``n``; a last window that does not fit is dropped."""
        return (n - self.kernel_size) // self.stride + 1

    def windows(self, H: int, W: int):
        """``(i, j, rows, cols)``: output position and the input slices of its window."""
        k, s = self.kernel_size, self.stride
        for i in range(self.out_size(H)):
            for j in range(self.out_size(W)):
                yield i, j, slice(i * s, i * s + k), slice(j * s, j * s + k)

    def forward(self, x: np.ndarray) -> np.ndarray:
        """``x: (N, C, H, W)`` -> ``(N, C, H_out, W_out)``; eq. (5)."""
        self._x = x
        N, C, H, W = x.shape
        y = np.zeros((N, C, self.out_size(H), self.out_size(W)), x.dtype)
        for i, j, rows, cols in self.windows(H, W):
            y[:, :, i, j] = x[:, :, rows, cols].max(axis=(2, 3))
        return y

    def backward(self, grad_y: np.ndarray) -> np.ndarray:
        """``grad_y: (N, C, H_out, W_out)`` -> ``(N, C, H, W)``; eq. (6)."""
        grad_x = np.zeros_like(self._x)
        for i, j, rows, cols in self.windows(*self._x.shape[2:]):
            mask = self.cache(self._x[:, :, rows, cols])
            self.route(grad_x[:, :, rows, cols], mask, grad_y[:, :, i, j, None, None])
        return grad_x

    def cache(self, window: np.ndarray) -> np.ndarray:
        """The seed's Cache for one window ``(N, C, kh, kw)``: 1 at its first maximum in
        row-major order, 0 elsewhere."""
        N, C, kh, kw = window.shape
        first = window.reshape(N, C, kh * kw).argmax(axis=2)
        return (np.arange(kh * kw) == first[..., None]).reshape(window.shape)

    def route(self, grad_window: np.ndarray, mask: np.ndarray, grad: np.ndarray) -> None:
        """Send a window's gradient ``grad`` ``(N, C, 1, 1)`` to where ``mask`` (its
        Cache) is 1, into ``grad_window``, a view of the input gradient."""
        grad_window += mask * grad                       # overlapping windows add up


class GradToAllTies(PlainMaxPool2D):
    def cache(self, window: np.ndarray) -> np.ndarray:
        return window == window.max(axis=(2, 3), keepdims=True)   # every maximum


class GradToLastMax(PlainMaxPool2D):
    def cache(self, window: np.ndarray) -> np.ndarray:
        N, C, kh, kw = window.shape
        backwards = window.reshape(N, C, kh * kw)[:, :, ::-1]
        last = kh * kw - 1 - backwards.argmax(axis=2)            # the last maximum
        return (np.arange(kh * kw) == last[..., None]).reshape(window.shape)


# Real code (2 of the real pools in issue 21): `dx[n, c, r0 + a, c0 + b] = dout[n, c, i,
# j]` at the window's (first) maximum, an assignment: where two overlapping windows share
# their maximum the later one's gradient replaces the earlier one's; every other entry,
# zeros included, is left as it was.
class OverlapOverwrites(PlainMaxPool2D):
    def route(self, grad_window: np.ndarray, mask: np.ndarray, grad: np.ndarray) -> None:
        np.copyto(grad_window, np.broadcast_to(grad, mask.shape), where=mask)   # assigned


# Real code: a loop over the columns whose exit test reads the rows' size (`while curr_x +
# f <= h`, the rows' test copied). With more columns than rows the last windows are never
# taken and their outputs stay 0; with fewer, the loop runs past the last column and the
# window comes back narrower or empty (an IndexError or ValueError).
class LoopExitWrongSize(PlainMaxPool2D):
    def windows(self, H: int, W: int):
        k, s = self.kernel_size, self.stride
        for i in range(self.out_size(H)):
            j = 0
            while j * s + k <= H:                        # H where W belongs
                yield i, j, slice(i * s, i * s + k), slice(j * s, j * s + k)
                j += 1


# Real code (a well-known NumPy ML library's pooling): the output size is computed with
# true division and asserted whole, `assert out_height % 1 == 0`, with no message; PyTorch
# drops the rows and columns left over, and this raises a bare AssertionError on them.
class AssertWindowsFit(PlainMaxPool2D):
    def out_size(self, n: int) -> int:
        size = (n - self.kernel_size) / self.stride + 1
        assert size % 1 == 0
        return int(size)


class OddSizeOffByOne(PlainMaxPool2D):
    def out_size(self, n: int) -> int:
        return math.ceil((n - self.kernel_size) / self.stride) + 1   # keeps a partial window


MISTAKES = [
    Mistake(
        "pool-grad-to-all-ties", "maxpool2d",
        "The gradient goes to every element equal to the window's maximum, as the seed's "
        "cache marks them; on zero backgrounds many windows hold several, and only the "
        "first may get it.",
        "(6)", GradToAllTies, "grad input", "ties", in_network="pool1"),
    Mistake(
        "pool-grad-to-last-max", "maxpool2d",
        "The gradient goes to the last maximum of a window instead of the first (in "
        "row-major order, as PyTorch).",
        "(6)", GradToLastMax, "grad input", "ties", in_network="pool1"),
    Mistake(
        "pool-overlap-overwrites", "maxpool2d",
        "The gradient is assigned to the window's maximum instead of added to it: where "
        "overlapping windows (stride < kernel) share their maximum, the later window's "
        "gradient replaces the earlier one's instead of adding to it.",
        "(6)", OverlapOverwrites, "grad input", "overlapping windows"),
    Mistake(
        "pool-odd-size-off-by-one", "maxpool2d",
        "A side the windows do not divide gets one window too many: a last, partial "
        "window, where PyTorch drops the leftover rows and columns.",
        "(5)", OddSizeOffByOne, "output", "odd size"),
    Mistake(
        "pool-loop-exit-wrong-size", "maxpool2d",
        "The loop over the columns stops by the rows' size: with more columns than rows the "
        "last windows are never taken (their outputs stay 0), with fewer the loop runs past "
        "the last column and raises.",
        "(5)", LoopExitWrongSize, "output", "non-square input"),
    Mistake(
        "pool-assert-windows-fit", "maxpool2d",
        "The forward pass asserts that the windows fit the input exactly; PyTorch drops the "
        "rows and columns left over, and this raises AssertionError on them.",
        "(5)", AssertWindowsFit, "output", "odd size"),
]
