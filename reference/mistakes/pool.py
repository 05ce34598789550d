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
        y = np.empty((N, C, self.out_size(H), self.out_size(W)), x.dtype)
        for i, j, rows, cols in self.windows(H, W):
            y[:, :, i, j] = x[:, :, rows, cols].max(axis=(2, 3))
        return y

    def backward(self, grad_y: np.ndarray) -> np.ndarray:
        """``grad_y: (N, C, H_out, W_out)`` -> ``(N, C, H, W)``; eq. (6)."""
        grad_x = np.zeros_like(self._x)
        for i, j, rows, cols in self.windows(*self._x.shape[2:]):
            share = self.cache(self._x[:, :, rows, cols]) * grad_y[:, :, i, j, None, None]
            self.add(grad_x[:, :, rows, cols], share)
        return grad_x

    def cache(self, window: np.ndarray) -> np.ndarray:
        """The seed's Cache for one window ``(N, C, kh, kw)``: 1 at its first maximum in
        row-major order, 0 elsewhere."""
        N, C, kh, kw = window.shape
        first = window.reshape(N, C, kh * kw).argmax(axis=2)
        return (np.arange(kh * kw) == first[..., None]).reshape(window.shape)

    def add(self, grad_window: np.ndarray, share: np.ndarray) -> None:
        grad_window += share                             # overlapping windows add up


class GradToAllTies(PlainMaxPool2D):
    def cache(self, window: np.ndarray) -> np.ndarray:
        return window == window.max(axis=(2, 3), keepdims=True)   # every maximum


class GradToLastMax(PlainMaxPool2D):
    def cache(self, window: np.ndarray) -> np.ndarray:
        N, C, kh, kw = window.shape
        backwards = window.reshape(N, C, kh * kw)[:, :, ::-1]
        last = kh * kw - 1 - backwards.argmax(axis=2)            # the last maximum
        return (np.arange(kh * kw) == last[..., None]).reshape(window.shape)


class OverlapOverwrites(PlainMaxPool2D):
    def add(self, grad_window: np.ndarray, share: np.ndarray) -> None:
        grad_window[...] = share                         # the later window wins


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
        "With overlapping windows (stride < kernel) each window's gradient overwrites the "
        "ones before it instead of adding to them.",
        "(6)", OverlapOverwrites, "grad input", "overlapping windows"),
    Mistake(
        "pool-odd-size-off-by-one", "maxpool2d",
        "A side the windows do not divide gets one window too many: a last, partial "
        "window, where PyTorch drops the leftover rows and columns.",
        "(5)", OddSizeOffByOne, "output", "odd size"),
]
