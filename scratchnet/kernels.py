"""The fast, vectorized routines behind Conv2D, MaxPool2D and Flatten.

This is the one place in scratchnet where the code is arranged for speed rather than for
reading. ``scratchnet/naive.py`` computes the same equations as plain loops; the layer
classes in ``scratchnet/layers`` call the entry points below and stay a plain statement of
the seed's equations. What was tried on the way here, with its measurements, is in
``reports/speed/history.md``.

Entry points: batch-first in, batch-first out
---------------------------------------------
The layers call :func:`conv2d_forward`, :func:`conv2d_backward`, :func:`maxpool2d_forward`,
:func:`maxpool2d_backward`, :func:`flatten` and :func:`unflatten`. They take and return
``(N, C, H, W)`` arrays, as PyTorch's layers do; what they return is a view of an array
kept in the memory order below, so the next entry point finds its input already there and
converts it without copying. Everything after the entry points works in that order.

The memory order: rows first, batch LAST
----------------------------------------
In memory, images are kept as ``(H, C, W, N)`` contiguous: the batch index varies fastest,
the image row slowest. An ``(N, C, H, W)`` array with that memory order is a transposed
view (:func:`from_batch_last`), so the data between layers never has to be copied into
another order.

Why the batch last: the seed network's images are small (28x28 and smaller), so in
batch-first order every row a kernel touches is 2 to 28 numbers long and the time goes
into loop overhead. With the batch innermost, each of those short rows becomes a run of
``N`` contiguous numbers, and the work below (window views, pooling maxima, scatter-adds)
runs over long contiguous memory.

Why the rows first: the convolution below works on one output row (or a block of rows)
at a time. With rows outermost, a row of all channels is one contiguous piece of memory,
so each row's matrix product writes straight into the output and the backward pass reads
each row of the output gradient in place; and the input rows a kernel window spans are
consecutive, so a window's im2col matrix is a view (:func:`row_windows`). With channels
outermost (as ``(C, H, W, N)``), a row would be ``C`` separate pieces, to be reordered by
a copy in each direction.

The operations
--------------
* Convolution, forward (eq. 1) and weight gradient (eq. 2): im2col without most of its
  copies. The textbook im2col copies every ``kh x kw`` receptive field into a column (25
  copies of each pixel for a 5x5 kernel) and multiplies by the flattened kernel. Here
  :func:`shifted_columns` copies each input row ``kw`` times, shifted by each column
  offset (5 copies of each pixel), and the ``kh`` rows of a window come for free: with
  rows outermost, the ``kh`` input rows that output row ``r`` reads are consecutive rows
  of that copy, so row ``r``'s im2col matrix is a view. The forward pass is then one
  small product per output row, ``kernel (C_out, kh*C_in*kw) @ window (kh*C_in*kw,
  W_out*N)``, written straight into ``y``; the weight gradient sums ``dy_row @ window^T``
  over the rows.
* Convolution, input gradient (eq. 4): eq. (4) read literally, the full cross-correlation
  of the zero-dilated, zero-padded output gradient with the rotated kernel, with the
  forward's trick turned around. :func:`spread_rows` lays the output gradient's rows out
  ``stride`` apart between zero rows, so the ``kh`` rows that reach input row ``h`` are
  consecutive and their window is a view (:func:`row_windows` again). One product per
  input row, ``rotated_kernel (C_in*kw, kh*C_out) @ window (kh*C_out, W_out*N)``, gives
  the gradient of that row's ``kw`` shifted copies (:func:`shifted_columns`), and
  :func:`add_shifts` adds the shifts up into the pixels they were copied from, in one
  reduction over a strided view.

  The product has ``C_in*kw`` rows and ``kh*C_out`` columns (5 x 20 for the seed's conv1,
  20 x 40 for conv2) and reads each window once per row: only the zero rows of the padding
  and the dilation are multiplied in vain. Two other arrangements are slower (measured in
  ``reports/speed/history.md``): products with ``C_in`` rows over ``kh*kw`` shifted copies
  of the gradient, which BLAS runs at the speed of memory, and a banded matrix over blocks
  of output rows, which reads the gradient once but spends more than half of its
  multiply-adds on zeros.
* Max-pooling takes ``np.maximum`` over the ``k*k`` strided views of the input (one per
  position inside the window) instead of reducing over a reshaped axis, which is far faster
  on small windows. It records, per window, which position the gradient goes to: exactly
  one element, the first maximum in row-major window order, as PyTorch does (a mask
  ``x == max`` would send it to every tied element: wrong on digits' zero backgrounds).
  A NaN wins its window, the last NaN if there are several, again as PyTorch. A ReLU
  after the pooling can run in the same call (``relu=True``), as ``MaxPoolReLU`` does.
  The positions are recorded as uint8, which bounds the window (:func:`max_pool_window`).
* NumPy's masked operations (``np.where``, ``copyto(where=)``, boolean indexing) are many
  times slower here than plain arithmetic on the same arrays, so the hot paths multiply
  by masks instead.
"""

from __future__ import annotations

import math
from collections.abc import Callable

import numpy as np

# ------------------------------------------------------------------ entry points
# What the layers call: batch-first arrays in and out, the memory order kept inside.


def conv2d_forward(
    x: np.ndarray, weight: np.ndarray, stride: int, padding: int,
    bias: np.ndarray | None = None, ws: Workspace | None = None,
) -> tuple[np.ndarray, tuple]:
    """Eq. (1): ``x: (N, C_in, H, W)`` -> ``y: (N, C_out, H_out, W_out)``, and the cache
    :func:`conv2d_backward` needs. ``bias`` as in :func:`conv_forward`."""
    y, cache = conv_forward(to_batch_last(x), weight, stride, padding, bias, ws)
    return from_batch_last(y), cache


def conv2d_backward(
    dy: np.ndarray, cache: tuple, weight: np.ndarray, stride: int, padding: int,
    bias_mode: str | None, need_input_grad: bool, ws: Workspace | None = None,
) -> tuple[np.ndarray | None, np.ndarray, np.ndarray | None]:
    """Eqs. (2)-(4) for ``dy: (N, C_out, H_out, W_out)``.

    Returns:
        ``dx: (N, C_in, H, W)`` (eq. 4; None without ``need_input_grad``), ``dweight``
        shaped like ``weight`` (eq. 2) and ``dbias`` (eq. 3, summed over the batch; None
        when ``bias_mode`` is None): ``(C_out,)`` for ``"tied"``, ``(C_out, H_out,
        W_out)`` for ``"untied"``.
    """
    dy_rows = to_batch_last(dy)
    dx, dweight = conv_backward(dy_rows, cache, weight, stride, padding, need_input_grad, ws)
    dbias = None if bias_mode is None else bias_grad(dy_rows, tied=bias_mode == "tied")
    return (None if dx is None else from_batch_last(dx)), dweight, dbias


def maxpool2d_forward(
    x: np.ndarray, k: int, stride: int, need_winner: bool, relu: bool
) -> tuple[np.ndarray, np.ndarray | None]:
    """Eq. (5) (with ``relu``, then eq. 11): ``x: (N, C, H, W)`` -> ``y: (N, C, H_out,
    W_out)``, and the winners :func:`maxpool2d_backward` needs (the seed's "Cache"; see
    :func:`maxpool_forward`)."""
    y, winner = maxpool_forward(to_batch_last(x), k, stride, need_winner, relu)
    return from_batch_last(y), winner


def maxpool2d_backward(
    dy: np.ndarray, winner: np.ndarray, x_shape: tuple[int, int, int, int], k: int,
    stride: int,
) -> np.ndarray:
    """Eq. (6): ``dy: (N, C, H_out, W_out)`` -> ``dx`` of ``x_shape (N, C, H, W)``."""
    N, C, H, W = x_shape
    return from_batch_last(maxpool_backward(to_batch_last(dy), winner, (H, C, W, N), k, stride))


def flatten(x: np.ndarray) -> np.ndarray:
    """``x: (N, ...)`` -> ``(N, prod(...))`` in C order, as ``torch.flatten(x, 1)``.

    The copy gathers ``(..., N)`` into ``(prod(...), N)`` and views that as ``(N,
    prod(...))``: reading the batch-last arrays of the other entry points, it then reads
    runs of ``N`` contiguous numbers. The values are the same for any memory order.
    """
    features = math.prod(x.shape[1:])
    return x.transpose(*range(1, x.ndim), 0).reshape(features, x.shape[0]).T


def unflatten(dy: np.ndarray, like: np.ndarray) -> np.ndarray:
    """``dy: (N, prod(...))`` back to the shape of ``like: (N, ...)``, in ``like``'s memory
    order: the layer before then works on two arrays of one memory order (NumPy's
    element-wise operations are several times slower on operands laid out differently)."""
    dx = np.empty_like(like)
    N, *example = like.shape
    dx.transpose(*range(1, dx.ndim), 0)[...] = dy.T.reshape(*example, N)
    return dx


# ------------------------------------------------------------------ memory order


def to_batch_last(x: np.ndarray) -> np.ndarray:
    """Return the ``(H, C, W, N)`` contiguous array holding ``x: (N, C, H, W)``.

    Free (no copy) when ``x`` is already a view made by :func:`from_batch_last`.
    """
    return np.ascontiguousarray(x.transpose(2, 1, 3, 0))


def from_batch_last(x: np.ndarray) -> np.ndarray:
    """View ``x: (H, C, W, N)`` as ``(N, C, H, W)`` without copying."""
    return x.transpose(3, 1, 0, 2)


def pad_spatial(x: np.ndarray, padding: int) -> np.ndarray:
    """Zero-pad the two spatial axes of ``x: (H, C, W, N)`` by ``padding`` on each side."""
    if padding == 0:
        return x
    p = padding
    H, C, W, N = x.shape
    out = np.zeros((H + 2 * p, C, W + 2 * p, N), x.dtype)
    out[p:-p, :, p:-p, :] = x
    return out


def output_size(size: int, kernel: int, stride: int, padding: int = 0) -> int:
    """Spatial output size of a sliding window (floored, as PyTorch does)."""
    return (size + 2 * padding - kernel) // stride + 1


def _strided(a: np.ndarray, shape: tuple[int, ...], strides: tuple[int, ...]) -> np.ndarray:
    """A read-only view of ``a`` starting at ``a[0...]``, with the given shape and strides
    (in bytes): what ``numpy.lib.stride_tricks.as_strided`` makes. Read-only because the
    views here overlap (neighbouring windows share memory): a write through one would
    change others.

    For a C-contiguous ``a`` (all the layers pass) it is built with the ``np.ndarray``
    constructor directly, which spends less than half of ``as_strided``'s Python time per
    call: a training step of the seed network makes eight such views, each over little
    data.
    """
    if not a.flags.c_contiguous:  # np.ndarray(buffer=) needs one block of memory
        return np.lib.stride_tricks.as_strided(a, shape, strides, writeable=False)
    view = np.ndarray(shape, a.dtype, buffer=a, strides=strides)
    view.flags.writeable = False
    return view


def _window_view(x: np.ndarray, kh: int, kw: int, stride: int) -> np.ndarray:
    """Read-only view ``(kh, kw, H_out, C, W_out, N)`` of the windows of ``x: (H, C, W, N)``.

    ``view[i, j, y, c, x, n] == x[y*stride + i, c, x*stride + j, n]``.
    """
    H, C, W, N = x.shape
    Ho, Wo = output_size(H, kh, stride), output_size(W, kw, stride)
    sh, sc, sw, sn = x.strides
    return _strided(x, (kh, kw, Ho, C, Wo, N), (sh, sw, sh * stride, sc, sw * stride, sn))


# ------------------------------------------------------------------------ workspace


class Workspace:
    """Scratch arrays that a layer keeps from one call to the next.

    The convolution's large temporaries (the shifted columns, the spread output gradient,
    the gradient of the shifted columns) have the same shapes at every step. Allocating
    them afresh each time costs more than the arithmetic: glibc hands big blocks back to
    the kernel on ``free``, and mapping them again while OpenBLAS's second thread runs
    costs page faults and cross-core TLB flushes, several times the seed's conv1 forward
    itself. So each layer keeps its own ``Workspace`` and the kernels write their
    temporaries into it. Arrays handed back to the caller (outputs, gradients) are always
    fresh; a workspace array is only valid until the owning layer's next call.
    """

    def __init__(self) -> None:
        self._arrays: dict[str, np.ndarray] = {}

    def get(self, name: str, shape: tuple[int, ...], dtype: np.dtype,
            init: Callable[[np.ndarray], None] | None = None) -> np.ndarray:
        """Array ``name`` of ``shape`` and ``dtype``, reused when it fits.

        Its contents are what the last user left, except that a newly allocated array is
        first passed to ``init`` (if given): for parts that never change between calls,
        such as zero margins. Such parts must be the same for every call that finds the
        array, so ``name`` carries whatever, beside the shape, decides where they lie.
        """
        a = self._arrays.get(name)
        if a is None or a.shape != shape or a.dtype != dtype:
            a = self._arrays[name] = np.empty(shape, dtype)
            if init is not None:
                init(a)
        return a


def _scratch(ws: Workspace | None, name: str, shape: tuple[int, ...], dtype,
             init: Callable[[np.ndarray], None] | None = None) -> np.ndarray:
    if ws is not None:
        return ws.get(name, shape, np.dtype(dtype), init)
    a = np.empty(shape, dtype)
    if init is not None:
        init(a)
    return a


# ------------------------------------------------------------------------ convolution


def shifted_columns(x: np.ndarray, kw: int, stride: int, ws: Workspace | None = None
                    ) -> np.ndarray:
    """Each input row ``kw`` times, shifted by each column offset: ``(H, C*kw, W_out*N)``.

    ``cols[h, (c, j), (q, n)] = x[h, c, q*stride + j, n]`` for ``x: (H, C, W, N)``: the
    ``kw`` pixels that output column ``q`` reads from row ``h`` of channel ``c``. Every
    pixel is copied ``kw`` times (im2col copies it ``kh*kw`` times); the ``kh`` rows a
    window spans come from :func:`row_windows`, without copying.
    """
    H, C, W, N = x.shape
    w_out = output_size(W, kw, stride)
    s_h, s_c, s_w, s_n = x.strides
    view = _strided(x, (H, C, kw, w_out, N), (s_h, s_c, s_w, stride * s_w, s_n))
    cols = _scratch(ws, "cols", (H, C * kw, w_out * N), x.dtype)
    np.copyto(cols.reshape(view.shape), view)
    return cols


def row_windows(cols: np.ndarray, kh: int, stride: int) -> np.ndarray:
    """The im2col matrix of every output row, as one view ``(H_out, kh*C*kw, W_out*N)`` of
    ``cols: (H, C*kw, W_out*N)`` from :func:`shifted_columns`.

    Output row ``r`` reads input rows ``r*stride`` to ``r*stride + kh - 1``, and with the
    rows outermost their entries of ``cols`` are consecutive: entry ``[r, (i, c, j), (q, n)]``
    is ``cols[r*stride + i, (c, j), (q, n)]``. The windows of neighbouring rows overlap.
    """
    H, ckw, wn = cols.shape
    s_h, s_k, s_n = cols.strides
    return _strided(cols, (output_size(H, kh, stride), kh * ckw, wn), (stride * s_h, s_k, s_n))


def conv_forward(
    x: np.ndarray, weight: np.ndarray, stride: int, padding: int,
    bias: np.ndarray | None = None, ws: Workspace | None = None,
) -> tuple[np.ndarray, tuple]:
    """Cross-correlate an image with a bank of kernels and add a bias; eq. (1).

    One matrix product per output row: the kernel ``(C_out, kh*C_in*kw)`` times that row's
    im2col matrix (:func:`row_windows`), written straight into the row of ``y``.

    Args:
        x: ``(H, C_in, W, N)`` contiguous.
        weight: ``(C_out, C_in, kh, kw)``.
        bias: None, ``(C_out,)`` (one per channel) or ``(C_out, H_out, W_out)`` (one per
            output position).
        ws: where to keep the temporaries between calls (see :class:`Workspace`).

    Returns:
        y: ``(H_out, C_out, W_out, N)`` contiguous, and a cache for :func:`conv_backward`.
    """
    C_out, _, kh, kw = weight.shape
    xp = pad_spatial(x, padding)
    cols = shifted_columns(xp, kw, stride, ws)                   # (H, C_in*kw, W_out*N)
    windows = row_windows(cols, kh, stride)                      # (H_out, kh*C_in*kw, W_out*N)
    h_out, w_out, N = windows.shape[0], output_size(xp.shape[2], kw, stride), x.shape[3]
    y = np.empty((h_out, C_out, w_out, N), x.dtype)
    kernel = weight.transpose(0, 2, 1, 3).reshape(C_out, -1)     # columns (i, c, j)
    np.matmul(kernel, windows, out=y.reshape(h_out, C_out, w_out * N))
    if bias is not None and bias.ndim == 1:                      # B_i, one per channel
        y.reshape(h_out, C_out, w_out * N)[...] += bias[:, None]
    elif bias is not None:                                       # B_i, one per position
        y += bias.transpose(1, 0, 2)[:, :, :, None]
    return y, (cols, xp.shape)


def spread_rows(dy: np.ndarray, height: int, kh: int, stride: int,
                ws: Workspace | None = None) -> np.ndarray:
    """The output gradient's rows ``stride`` apart between zero rows:
    ``(height + kh - 1, C_out, W_out*N)`` for ``dy: (H_out, C_out, W_out, N)``.

    Row ``kh - 1 + r*stride`` holds ``dy[r]``, every other row is zero: ``kh - 1`` zero rows
    above, the rows the stride skips, and the rest below. So the ``kh`` rows from ``h`` on
    hold, at offset ``t``, the gradient of the output row whose kernel row ``kh - 1 - t``
    reads input row ``h``, or zeros where no output row's does: their :func:`row_windows`
    are eq. (4)'s windows, the output gradient zero-dilated by the stride and padded by
    ``kh - 1`` rows. The zeros are written once, when the array is made (its name in ``ws``
    carries ``kh`` and ``stride``: see :meth:`Workspace.get`).
    """
    h_out, C_out, w_out, N = dy.shape
    spread = _scratch(ws, f"spread kh={kh} stride={stride}",
                      (height + kh - 1, C_out, w_out * N), dy.dtype, lambda a: a.fill(0))
    spread[kh - 1 : kh - 1 + (h_out - 1) * stride + 1 : stride] = dy.reshape(h_out, C_out, -1)
    return spread


def rotated_kernel(weight: np.ndarray) -> np.ndarray:
    """``kernel[(c, j), (t, o)] = weight[o, c, kh - 1 - t, j]``, ``(C_in*kw, kh*C_out)``:
    eq. (4)'s kernel, its rows reversed and its channels swapped, as a matrix whose columns
    match the rows of a window of :func:`spread_rows`."""
    C_out, C_in, kh, kw = weight.shape
    return weight[:, :, ::-1].transpose(1, 3, 2, 0).reshape(C_in * kw, kh * C_out)


def shift_margin(kw: int) -> int:
    """Zero columns kept on each side of every row of ``dcols`` (:func:`add_shifts`)."""
    return kw - 1


def add_shifts(dcols: np.ndarray, shape: tuple[int, int, int, int], kw: int, stride: int
               ) -> np.ndarray:
    """Add each input row's shifted-column gradients up into the pixels they were copied
    from: ``dx`` of ``shape (H, C, W, N)``; the backward of :func:`shifted_columns`.

    ``dcols: (H, C*kw, (W_out + 2*margin)*N)``: rows ``(c, j)`` and columns ``(q, n)`` as in
    :func:`shifted_columns`, between ``margin = shift_margin(kw)`` zero columns on each
    side. Entry ``[h, (c, j), (margin + q, n)]`` belongs to ``dx[h, c, q*stride + j, n]``.

    With stride 1 the ``kw`` shifts are summed by one reduction: the entries that
    ``dx[h, c, w, n]`` sums, ``[h, (c, j), (margin + w - j, n)]`` for ``j = 0 .. kw-1``,
    lie equally far apart in memory, so they form one axis of a strided view, and the
    margins supply the zeros where ``w - j`` falls outside the row. With a larger stride
    the shifts are added one at a time.
    """
    H, C, W, N = shape
    w_out, margin = output_size(W, kw, stride), shift_margin(kw)
    if stride > 1:
        by_shift = dcols[:, :, margin * N : (margin + w_out) * N].reshape(H, C, kw, w_out, N)
        dx = np.zeros(shape, dcols.dtype)
        for j in range(kw):
            dx[:, :, j : j + stride * w_out : stride] += by_shift[:, :, j]
        return dx
    s_h, s_j, s = dcols.strides                    # s_j: one shift, a row of dcols
    s_w = N * s                                    # one column
    # by_shift[h, c, w, j, n] = dcols[h, (c, j), (margin + w - j, n)]
    by_shift = np.ndarray((H, C, W, kw, N), dcols.dtype, buffer=dcols, offset=margin * s_w,
                          strides=(s_h, kw * s_j, s_w, s_j - s_w, s))
    return np.sum(by_shift, axis=3)


def conv_backward(
    dy: np.ndarray, cache: tuple, weight: np.ndarray, stride: int, padding: int,
    need_input_grad: bool = True, ws: Workspace | None = None,
) -> tuple[np.ndarray | None, np.ndarray]:
    """Gradients of :func:`conv_forward`: eq. (2) for the weight, eq. (4) for the input.

    Args:
        dy: ``(H_out, C_out, W_out, N)`` upstream gradient, contiguous.
        cache: what :func:`conv_forward` returned beside ``y``.
        weight: ``(C_out, C_in, kh, kw)``.
        ws: the workspace given to :func:`conv_forward`.

    Returns:
        dx: ``(H, C_in, W, N)`` (None when not needed), and dweight, shaped like weight.
    """
    cols, padded_shape = cache
    C_out, C_in, kh, kw = weight.shape
    h_out, _, w_out, N = dy.shape
    # Eq. (2): each output row's gradient (C_out, W_out*N) times the transpose of its
    # im2col matrix, summed over the rows.
    per_row = np.matmul(dy.reshape(h_out, C_out, w_out * N),
                        row_windows(cols, kh, stride).transpose(0, 2, 1))
    dweight = per_row.sum(axis=0).reshape(C_out, kh, C_in, kw).transpose(0, 2, 1, 3)
    if not need_input_grad:
        return None, dweight
    # Eq. (4), one product per input row: the rotated kernel (C_in*kw, kh*C_out) times the
    # window of the kh output-gradient rows that reach the row, giving the gradient of the
    # row's shifted columns, written between the zero margins add_shifts reads; add_shifts
    # adds those up over the kw shifts.
    height = padded_shape[0]
    windows = row_windows(spread_rows(dy, height, kh, stride, ws), kh, 1)  # (H, kh*C_out, W_out*N)
    margin = shift_margin(kw)      # the margins' place depends on kw and N: in the name
    dcols = _scratch(ws, f"dcols kw={kw} n={N}", (height, C_in * kw, (w_out + 2 * margin) * N),
                     dy.dtype, lambda a: a.fill(0))
    np.matmul(rotated_kernel(weight), windows, out=dcols[:, :, margin * N : (margin + w_out) * N])
    dxp = add_shifts(dcols, padded_shape, kw, stride)
    p = padding
    dx = dxp[p:-p, :, p:-p, :] if p else dxp
    return np.ascontiguousarray(dx), dweight


def bias_grad(dy: np.ndarray, tied: bool) -> np.ndarray:
    """Eq. (3) summed over the batch: ``dy: (H_out, C_out, W_out, N)`` ->
    ``(C_out,)`` for a tied bias, ``(C_out, H_out, W_out)`` for an untied one.

    The sum over the short, innermost batch axis is a matrix-vector product with ones:
    one BLAS call, several times faster than ``dy.sum(axis=3)``.
    """
    ones = np.ones(dy.shape[3], dy.dtype)
    H, C, W, N = dy.shape
    per_position = (dy.reshape(H * C * W, N) @ ones).reshape(H, C, W)
    return per_position.sum(axis=(0, 2)) if tied else per_position.transpose(1, 0, 2).copy()


# ------------------------------------------------------------------------ max-pooling


#: How many values a window's ``winner`` can take: positions are recorded as uint8.
WINNER_VALUES = 256

#: ``winner`` of a window that passes no gradient on (see ``maxpool_forward(relu=True)``):
#: with ``relu``, this value is kept free of window positions.
NO_WINNER = WINNER_VALUES - 1


def max_pool_window(relu: bool) -> int:
    """The largest ``k`` that ``k x k`` pooling windows may have: the window's ``k*k``
    positions must each have a uint8 ``winner`` value, and with ``relu`` one value,
    :data:`NO_WINNER`, is kept for the windows the ReLU zeroed (16, or 15 with ``relu``).
    This is the one statement of the limit; the layers check it through
    :func:`check_pool_window`."""
    return math.isqrt(WINNER_VALUES - (1 if relu else 0))


def check_pool_window(k: int, who: str, relu: bool = False) -> None:
    """Raise ValueError, naming ``who``, if ``k x k`` windows exceed :func:`max_pool_window`."""
    if k > max_pool_window(relu):
        raise ValueError(f"{who}: kernel_size must be at most {max_pool_window(relu)}, got {k}")


def maxpool_forward(
    x: np.ndarray, k: int, stride: int, need_winner: bool = True, relu: bool = False
) -> tuple[np.ndarray, np.ndarray | None]:
    """Max over ``k x k`` windows of ``x: (H, C, W, N)``; eq. (5). With ``relu``, the ReLU
    of that, eq. (11), in the same pass (``relu(max(window)) == max(relu(window))``).

    Returns:
        y: ``(H_out, C, W_out, N)``, and ``winner: (H_out, C, W_out, N)`` uint8, the row-major
        position ``i*k + j`` inside its window of the one element the gradient goes to
        (None when not ``need_winner``: finding it costs more than the maximum itself).
        With ``relu``, a window whose output the ReLU made 0 has ``NO_WINNER``: the ReLU's
        derivative there is 0 (12), so :func:`maxpool_backward` passes nothing on.
    """
    check_pool_window(k, "maxpool_forward", relu)
    view = _window_view(x, k, k, stride)
    at = [view[p // k, p % k] for p in range(k * k)]
    best = np.maximum(at[0], at[1]) if len(at) > 1 else at[0].copy()
    for cand in at[2:]:
        np.maximum(best, cand, out=best)
    winner = None
    if need_winner:
        # winner = how many window positions come before the first one holding the
        # maximum, i.e. for how many p none of the positions 0..p holds it. (uint8 views of
        # the bool arrays keep NumPy from converting them on every operation.)
        missed = at[0] != best                      # no maximum at positions 0..p yet
        winner = missed.view(np.uint8).copy()
        differs = np.empty_like(missed)
        for cand in at[1:-1]:
            np.not_equal(cand, best, out=differs)
            missed &= differs
            winner += missed.view(np.uint8)
        # A NaN makes its window's maximum NaN (and np.max's); the window's gradient goes
        # to its last NaN, as in PyTorch.
        if best.size and np.isnan(best.max()):
            for p, cand in enumerate(at):
                winner[np.isnan(cand)] = p
    if relu:  # as ReLU.forward, after the winners (found among the values before it)
        np.maximum(best, best.dtype.type(0), out=best)
        if winner is not None:  # the ReLU's zeros (and -0.0) get NO_WINNER; NaN keeps its own
            zero = np.equal(best, 0, out=differs).view(np.uint8)
            zero *= NO_WINNER
            winner |= zero
    return best, winner


def maxpool_backward(
    dy: np.ndarray, winner: np.ndarray, x_shape: tuple[int, int, int, int], k: int, stride: int
) -> np.ndarray:
    """Route ``dy: (H_out, C, W_out, N)`` to the one winning element of each window; eq. (6).

    Returns:
        dx: ``(H, C, W, N)``; overlapping windows (stride < k) add up.
    """
    h_out, _, w_out, _ = dy.shape
    H, _, W, _ = x_shape
    tiled = stride == k and H == k * h_out and W == k * w_out  # every element in one window
    dx = (np.empty if tiled else np.zeros)(x_shape, dy.dtype)
    for p in range(k * k):
        i, j = divmod(p, k)
        target = dx[i : i + stride * h_out : stride, :, j : j + stride * w_out : stride, :]
        if stride >= k:  # windows do not overlap: each element of dx is written once
            np.multiply(dy, winner == p, out=target)
        else:
            target += dy * (winner == p)
    return dx
