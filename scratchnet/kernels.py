"""The fast, vectorized routines behind Conv2D and MaxPool2D.

This is the one place in scratchnet where the code is arranged for speed rather than for
reading; the layer classes in ``scratchnet/layers`` call these functions and stay a plain
statement of the seed's equations.

The layout: batch LAST
----------------------
The layers' public arrays are batch-first, ``(N, C, H, W)``, as in PyTorch. In memory,
though, scratchnet keeps images *batch-last*: ``(C, H, W, N)`` contiguous, the batch index
varying fastest. An ``(N, C, H, W)`` array with that memory order is just a transposed view
(:func:`from_batch_last`), so every layer still sees and returns ``(N, C, H, W)`` while the
data between layers never has to be copied into another order.

Why batch-last: the seed network's images are small (28x28 and smaller), so in batch-first
order every row a kernel touches is 2 to 28 numbers long and the time goes into loop
overhead. With the batch innermost, each of those short rows becomes a run of ``N``
contiguous numbers, and the work below (window views, pooling maxima, scatter-adds) runs
over long contiguous memory. Measured on the 2-core machines this project targets, this
one choice was the largest speed-up of all (see ``reports/`` and the project notes).

The operations
--------------
* Convolution is *im2col + one matrix product*: the receptive fields are gathered into a
  matrix ``cols`` of shape ``(C_in*kh*kw, H_out*W_out*N)``, and the whole layer is
  ``W (C_out, C_in*kh*kw) @ cols``, one BLAS call. Its weight gradient is the product with
  ``cols`` transposed, and its input gradient is the transposed product scattered back
  (col2im), one strided add per kernel offset.
* Max-pooling takes ``np.maximum`` over the ``k*k`` strided views of the input (one per
  position inside the window) instead of reducing over a reshaped axis, which is far faster
  on small windows. The index of the winning view is kept so the gradient goes to exactly
  one element per window: the first maximum in row-major window order, as PyTorch does
  (a mask ``x == max`` would send it to every tied element: wrong on digits' zero
  backgrounds). A NaN wins its window, the last NaN if there are several, again as PyTorch.
"""

from __future__ import annotations

import numpy as np
from numpy.lib.stride_tricks import as_strided

# ----------------------------------------------------------------------------- layout


def to_batch_last(x: np.ndarray) -> np.ndarray:
    """Return the ``(C, H, W, N)`` contiguous array holding ``x: (N, C, H, W)``.

    Free (no copy) when ``x`` is already a view made by :func:`from_batch_last`.
    """
    return np.ascontiguousarray(x.transpose(1, 2, 3, 0))


def from_batch_last(x: np.ndarray) -> np.ndarray:
    """View ``x: (C, H, W, N)`` as ``(N, C, H, W)`` without copying."""
    return x.transpose(3, 0, 1, 2)


def pad_spatial(x: np.ndarray, padding: int) -> np.ndarray:
    """Zero-pad the two spatial axes of ``x: (C, H, W, N)`` by ``padding`` on each side."""
    if padding == 0:
        return x
    p = padding
    out = np.zeros((x.shape[0], x.shape[1] + 2 * p, x.shape[2] + 2 * p, x.shape[3]), x.dtype)
    out[:, p:-p, p:-p, :] = x
    return out


def output_size(size: int, kernel: int, stride: int, padding: int = 0) -> int:
    """Spatial output size of a sliding window (floored, as PyTorch does)."""
    return (size + 2 * padding - kernel) // stride + 1


def _window_view(x: np.ndarray, kh: int, kw: int, stride: int) -> np.ndarray:
    """Read-only view ``(C, kh, kw, H_out, W_out, N)`` of the windows of ``x: (C, H, W, N)``.

    ``view[c, i, j, y, x, n] == x[c, y*stride + i, x*stride + j, n]``.
    """
    C, H, W, N = x.shape
    Ho, Wo = output_size(H, kh, stride), output_size(W, kw, stride)
    sc, sh, sw, sn = x.strides
    return as_strided(
        x,
        shape=(C, kh, kw, Ho, Wo, N),
        strides=(sc, sh, sw, sh * stride, sw * stride, sn),
        writeable=False,
    )


# ------------------------------------------------------------------------ convolution


def im2col(x: np.ndarray, kh: int, kw: int, stride: int) -> np.ndarray:
    """Gather the receptive fields of ``x: (C, H, W, N)`` (already padded).

    Returns:
        cols: ``(C*kh*kw, H_out*W_out*N)``, row ``(c, i, j)`` holding input channel ``c``
        shifted by kernel offset ``(i, j)`` for every output position and image.
    """
    view = _window_view(x, kh, kw, stride)
    C, _, _, Ho, Wo, N = view.shape
    return view.reshape(C * kh * kw, Ho * Wo * N)


def col2im(
    dcols: np.ndarray, shape: tuple[int, int, int, int], kh: int, kw: int, stride: int
) -> np.ndarray:
    """Scatter-add ``dcols: (C*kh*kw, H_out*W_out*N)`` back to an image of ``shape (C, H, W, N)``.

    The adjoint of :func:`im2col`: every input pixel receives the sum of the gradients of
    all the receptive-field entries it was copied into.
    """
    C, H, W, N = shape
    Ho, Wo = output_size(H, kh, stride), output_size(W, kw, stride)
    d = dcols.reshape(C, kh, kw, Ho, Wo, N)
    dx = np.zeros(shape, dcols.dtype)
    for i in range(kh):
        for j in range(kw):
            dx[:, i : i + stride * Ho : stride, j : j + stride * Wo : stride, :] += d[:, i, j]
    return dx


def conv_forward(
    x: np.ndarray, weight: np.ndarray, stride: int, padding: int
) -> tuple[np.ndarray, np.ndarray]:
    """Cross-correlate a batch-last image with a bank of kernels (no bias).

    Args:
        x: ``(C_in, H, W, N)`` contiguous.
        weight: ``(C_out, C_in, kh, kw)``.

    Returns:
        y: ``(C_out, H_out, W_out, N)`` contiguous, and ``cols`` (kept for the backward pass).
    """
    C_out, _, kh, kw = weight.shape
    xp = pad_spatial(x, padding)
    cols = im2col(xp, kh, kw, stride)
    Ho, Wo = output_size(xp.shape[1], kh, stride), output_size(xp.shape[2], kw, stride)
    y = weight.reshape(C_out, -1) @ cols
    return y.reshape(C_out, Ho, Wo, x.shape[3]), cols


def conv_backward(
    dy: np.ndarray,
    cols: np.ndarray,
    weight: np.ndarray,
    x_shape: tuple[int, int, int, int],
    stride: int,
    padding: int,
    need_input_grad: bool = True,
) -> tuple[np.ndarray | None, np.ndarray]:
    """Gradients of :func:`conv_forward`.

    Args:
        dy: ``(C_out, H_out, W_out, N)`` upstream gradient, contiguous.
        cols: the ``cols`` that :func:`conv_forward` returned.
        weight: ``(C_out, C_in, kh, kw)``.
        x_shape: ``(C_in, H, W, N)``, the unpadded input's shape.

    Returns:
        dx: ``(C_in, H, W, N)`` (or None when not needed), and dweight, shaped like weight.
    """
    C_out, _, kh, kw = weight.shape
    dy2 = dy.reshape(C_out, -1)
    dweight = (dy2 @ cols.T).reshape(weight.shape)
    if not need_input_grad:
        return None, dweight
    C, H, W, N = x_shape
    p = padding
    dcols = weight.reshape(C_out, -1).T @ dy2
    dxp = col2im(dcols, (C, H + 2 * p, W + 2 * p, N), kh, kw, stride)
    dx = dxp[:, p : p + H, p : p + W, :] if p else dxp
    return np.ascontiguousarray(dx), dweight


# ------------------------------------------------------------------------ max-pooling


def maxpool_forward(x: np.ndarray, k: int, stride: int) -> tuple[np.ndarray, np.ndarray]:
    """Max over ``k x k`` windows of ``x: (C, H, W, N)``.

    Returns:
        y: ``(C, H_out, W_out, N)``, and ``winner: (C, H_out, W_out, N)`` uint8, the row-major
        position ``i*k + j`` inside its window of the element each output came from.
    """
    view = _window_view(x, k, k, stride)
    best = view[:, 0, 0].copy()
    winner = np.zeros(best.shape, np.uint8)
    for pos in range(1, k * k):
        cand = view[:, pos // k, pos % k]
        # Strictly greater: on a tie the earlier (row-major) element keeps the window.
        # A NaN always takes the window, so the last NaN wins, as in PyTorch.
        take = (cand > best) | np.isnan(cand)
        np.copyto(best, cand, where=take)
        winner[take] = pos
    return best, winner


def maxpool_backward(
    dy: np.ndarray, winner: np.ndarray, x_shape: tuple[int, int, int, int], k: int, stride: int
) -> np.ndarray:
    """Route ``dy: (C, H_out, W_out, N)`` to the one winning element of each window.

    Returns:
        dx: ``(C, H, W, N)``; overlapping windows (stride < k) add up.
    """
    _, Ho, Wo, _ = dy.shape
    dx = np.zeros(x_shape, dy.dtype)
    zero = dy.dtype.type(0)
    for pos in range(k * k):
        i, j = divmod(pos, k)
        target = dx[:, i : i + stride * Ho : stride, j : j + stride * Wo : stride, :]
        target += np.where(winner == pos, dy, zero)
    return dx
