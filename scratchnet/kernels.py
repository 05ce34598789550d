"""The fast, vectorized routines behind Conv2D and MaxPool2D.

This is the one place in scratchnet where the code is arranged for speed rather than for
reading; the layer classes in ``scratchnet/layers`` call these functions and stay a plain
statement of the seed's equations.

The layout: rows first, batch LAST
----------------------------------
The layers' public arrays are batch-first, ``(N, C, H, W)``, as in PyTorch. In memory,
though, scratchnet keeps images as ``(H, C, W, N)`` contiguous: the batch index varying
fastest, and the image row slowest. An ``(N, C, H, W)`` array with that memory order is
just a transposed view (:func:`from_batch_last`), so every layer still sees and returns
``(N, C, H, W)`` while the data between layers never has to be copied into another order.
Every function below takes and returns arrays indexed in memory order, ``(H, C, W, N)``.

Why the batch last: the seed network's images are small (28x28 and smaller), so in
batch-first order every row a kernel touches is 2 to 28 numbers long and the time goes
into loop overhead. With the batch innermost, each of those short rows becomes a run of
``N`` contiguous numbers, and the work below (window views, pooling maxima, scatter-adds)
runs over long contiguous memory. Measured on the 2-core machines this project targets,
this one choice was the largest speed-up of all (see ``reports/`` and the project notes).

Why the rows first: the convolution below computes its output a block of ``R`` rows at a
time. With rows outermost, a block of rows of all channels is one contiguous piece of
memory, so each block's matrix product writes straight into the output, and the backward
pass reads each block of the output gradient in place. With channels outermost (as
``(C, H, W, N)``), a block would be ``C`` separate pieces, and the seed's conv1 spent a
copy of its whole output in each direction to reorder them. Measured on the 2-core
machines, interleaved in one process at batch 64: the float64 training step took 9% less
time in this layout than with channels outermost; float32 was within the noise (-1.5%
to +3%), as three smaller products cost about 20% more than one large one there.

The operations
--------------
* Convolution is one matrix product per block of ``R`` output rows, against a *banded*
  matrix built from the kernel. The textbook route, im2col, copies every ``kh x kw``
  receptive field into a column (25 copies of each pixel for a 5x5 kernel) and multiplies
  by the flattened kernel. Here a block of ``R`` output rows reads
  ``span = (R-1)*stride + kh`` input rows, and a column of the block's input matrix holds
  those ``span`` rows at one output column, for each of the ``kw`` column offsets: only
  ``kw * span / R`` copies of each pixel (5 * 12 / 8 = 7.5 for the seed). The matrix that
  maps such a column to the block's ``R`` output rows is the kernel written along a band,
  the same for every block (a convolution is translation invariant)::

        band[(r, o), (h, c, j)] = weight[o, c, h - r*stride, j]   if 0 <= h - r*stride < kh
                                  0                               otherwise

  The band wastes multiply-adds on its zeros (span/kh = 12/5 for the seed), but BLAS does
  them faster than the copies im2col needs. ``R = 1`` *is* im2col; ``R = H_out`` is a
  single band over the whole image. The product adds the bias too (:func:`conv_forward`).
  The input gradient is the transposed product scattered back over the ``kw`` column
  offsets (:func:`block_col2im`), eq. (4). The weight gradient, eq. (2), skips the band's
  zeros: the columns of output row ``r`` are rows ``r*stride*C*kw`` onwards of its block's
  matrix (:func:`row_windows`, a view), so it is one small product per output row, with
  im2col's multiply-adds and the band's copies. (On the 2-core machines this project
  targets, these products made the seed's training step at batch 64 take 5-10% less time
  than the band's ``dy @ cols^T``, interleaved in one process.)
* Max-pooling takes ``np.maximum`` over the ``k*k`` strided views of the input (one per
  position inside the window) instead of reducing over a reshaped axis, which is far faster
  on small windows. It records, per window, which position the gradient goes to: exactly
  one element, the first maximum in row-major window order, as PyTorch does (a mask
  ``x == max`` would send it to every tied element: wrong on digits' zero backgrounds).
  A NaN wins its window, the last NaN if there are several, again as PyTorch. A ReLU
  after the pooling can run in the same call (``relu=True``), as ``MaxPoolReLU`` does.
* NumPy's masked operations (``np.where``, ``copyto(where=)``, boolean indexing) are 10-30x
  slower here than plain arithmetic on the same arrays, so the hot paths multiply by masks
  instead.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

# ----------------------------------------------------------------------------- layout


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


def _strided(a: np.ndarray, shape: tuple[int, ...], strides: tuple[int, ...],
             writeable: bool = True) -> np.ndarray:
    """A view of ``a`` starting at ``a[0...]``, with the given shape and strides (in
    bytes): what ``numpy.lib.stride_tricks.as_strided`` makes.

    For a C-contiguous ``a`` (all the layers pass) it is built with the ``np.ndarray``
    constructor directly: ``as_strided`` spends about 6 us of Python on each call, this
    about 2.5, and a training step of the seed network makes eight such views (measured
    on the 2-core machines this project targets).
    """
    if not a.flags.c_contiguous:  # np.ndarray(buffer=) needs one block of memory
        return np.lib.stride_tricks.as_strided(a, shape, strides, writeable=writeable)
    view = np.ndarray(shape, a.dtype, buffer=a, strides=strides)
    view.flags.writeable = writeable and a.flags.writeable
    return view


def _window_view(x: np.ndarray, kh: int, kw: int, stride: int) -> np.ndarray:
    """Read-only view ``(kh, kw, H_out, C, W_out, N)`` of the windows of ``x: (H, C, W, N)``.

    ``view[i, j, y, c, x, n] == x[y*stride + i, c, x*stride + j, n]``.
    """
    H, C, W, N = x.shape
    Ho, Wo = output_size(H, kh, stride), output_size(W, kw, stride)
    sh, sc, sw, sn = x.strides
    return _strided(x, (kh, kw, Ho, C, Wo, N), (sh, sw, sh * stride, sc, sw * stride, sn),
                    writeable=False)


# ------------------------------------------------------------------------ workspace


class Workspace:
    """Scratch arrays that a layer keeps from one call to the next.

    The convolution's large temporaries (the block columns, their gradient) have the same
    shapes at every step. Allocating them afresh each time costs more than the arithmetic
    on these 2-core virtual machines: glibc hands big blocks back to the kernel on
    ``free``, and mapping them again while OpenBLAS's second thread runs costs page faults
    and cross-core TLB flushes (measured: the seed's conv1 forward, float32, batch 64, took
    0.85 ms with fresh buffers, 0.2 ms reusing them). So each layer keeps its own
    ``Workspace`` and the kernels write their temporaries into it. Arrays handed back to
    the caller (outputs, gradients) are always fresh; a workspace array is only valid
    until the owning layer's next call.
    """

    def __init__(self) -> None:
        self._arrays: dict[str, np.ndarray] = {}

    def get(self, name: str, shape: tuple[int, ...], dtype: np.dtype,
            init: Callable[[np.ndarray], None] | None = None) -> np.ndarray:
        """Array ``name`` of ``shape`` and ``dtype``, reused when it fits.

        Its contents are what the last user left, except that a newly allocated array is
        first passed to ``init`` (if given): for parts that never change between calls.
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

#: Output rows per block of the banded convolution (see the module docstring).
MAX_BLOCK_ROWS = 8


def block_rows(h_out: int) -> int:
    """Rows per block: the largest divisor of ``h_out`` that is at most ``MAX_BLOCK_ROWS``."""
    return max(r for r in range(1, min(h_out, MAX_BLOCK_ROWS) + 1) if h_out % r == 0)


def band_weights(
    weight: np.ndarray, rows: int, stride: int, blocks: int = 1,
    bias: np.ndarray | None = None, ws: Workspace | None = None,
) -> np.ndarray:
    """The matrices that multiply the block columns: ``(blocks, R*C_out, K + bias_rows)``.

    Each is the band, ``K = span*C_in*kw`` columns holding the kernel (see the module
    docstring), followed by its block's bias columns: one holding each row's channel bias
    (``bias: (C_out,)``), or ``W_out`` holding the bias of each row's output positions
    (``bias: (C_out, H_out, W_out)``); none without a bias. Kept in ``ws``: the band's zeros
    are written once, when the array is made, and each call writes the kernel and bias.

    Args:
        weight: ``(C_out, C_in, kh, kw)``.
        rows: ``R``, output rows per block; ``blocks``: how many blocks.
    """
    C_out, C_in, kh, kw = weight.shape
    span = (rows - 1) * stride + kh
    K = span * C_in * kw
    bias_rows = 0 if bias is None else 1 if bias.ndim == 1 else bias.shape[2]
    out = _scratch(ws, "weights", (blocks, rows * C_out, K + bias_rows), weight.dtype,
                   lambda a: a.fill(0))
    # Entry [b, r, o, i, c, j] of this view is out[b, (r, o), (r*stride + i, c, j)].
    s_b, s_row, s = out.strides
    s_h = C_in * kw * s
    kernel_at = _strided(out, (blocks, rows, C_out, kh, C_in, kw),
                         (s_b, C_out * s_row + stride * s_h, s_row, s_h, kw * s, s))
    kernel_at[...] = weight.transpose(0, 2, 1, 3)      # the same band in every block
    if bias is not None and bias.ndim == 1:
        out[:, :, K].reshape(blocks, rows, C_out)[...] = bias
    elif bias is not None:        # (C_out, H_out, W_out) -> block b's rows (r, o), columns q
        out[:, :, K:].reshape(blocks, rows, C_out, -1)[...] = bias.transpose(1, 0, 2).reshape(
            blocks, rows, C_out, -1)
    return out


def _block_windows(x: np.ndarray, kh: int, kw: int, rows: int, stride: int) -> np.ndarray:
    """View ``(blocks, span, C, kw, W_out, N)`` of ``x: (H, C, W, N)``: entry
    ``[b, h, c, j, q, n] = x[b*R*stride + h, c, q*stride + j, n]``."""
    H, C, W, N = x.shape
    h_out, w_out = output_size(H, kh, stride), output_size(W, kw, stride)
    span = (rows - 1) * stride + kh
    s_h, s_c, s_w, s_n = x.strides
    return _strided(x, (h_out // rows, span, C, kw, w_out, N),
                    (rows * stride * s_h, s_h, s_c, s_w, stride * s_w, s_n), writeable=False)


def block_cols(
    x: np.ndarray, kh: int, kw: int, rows: int, stride: int, ws: Workspace | None = None,
    bias_rows: int = 0,
) -> np.ndarray:
    """The input matrices of the banded products, one per block of rows:
    ``(blocks, span*C*kw + bias_rows, W_out*N)``.

    With ``bias_rows`` > 0, each matrix ends in ``bias_rows`` constant rows that let the
    product add a bias (see :func:`conv_forward`): one row of ones for a bias per channel,
    or, for a bias per position (``bias_rows == W_out``), row ``q`` is 1 in the columns
    of output column ``q`` and 0 elsewhere.
    """
    view = _block_windows(x, kh, kw, rows, stride)
    blocks, span, C, _, w_out, N = view.shape
    K = span * C * kw

    def bias_part(cols: np.ndarray) -> None:
        part = cols[:, K:].reshape(blocks, bias_rows, w_out, N)
        part[...] = 1 if bias_rows == 1 else np.eye(w_out, dtype=cols.dtype)[:, :, None]

    cols = _scratch(ws, "cols", (blocks, K + bias_rows, w_out * N), x.dtype,
                    bias_part if bias_rows else None)
    np.copyto(cols[:, :K].reshape(view.shape), view)
    return cols


def row_windows(cols: np.ndarray, kh: int, ckw: int, rows: int, stride: int) -> np.ndarray:
    """View ``(blocks, R, kh*C*kw, W_out*N)`` of the block columns ``cols`` of
    :func:`block_cols`: entry ``[b, r]`` is the im2col matrix of output row ``r`` of block
    ``b``. That row reads the ``kh`` input rows from ``r*stride`` on, whose entries are the
    consecutive rows ``[r*stride*ckw, (r*stride + kh)*ckw)`` of ``cols[b]`` (``ckw = C*kw``),
    so it is a view, not a copy (the views of neighbouring output rows overlap).
    """
    blocks, _, wn = cols.shape
    s_b, s_k, s_n = cols.strides
    return _strided(cols, (blocks, rows, kh * ckw, wn), (s_b, stride * ckw * s_k, s_k, s_n),
                    writeable=False)


def block_col2im(
    dcols: np.ndarray, shape: tuple[int, int, int, int], kh: int, kw: int, rows: int,
    stride: int,
) -> np.ndarray:
    """The adjoint of :func:`block_cols`: scatter-add columns back to ``shape (H, C, W, N)``."""
    H, C, W, N = shape
    h_out, w_out = output_size(H, kh, stride), output_size(W, kw, stride)
    span, blocks = (rows - 1) * stride + kh, h_out // rows
    d = dcols.reshape(blocks, span, C, kw, w_out, N)
    dx = np.zeros(shape, dcols.dtype)
    for b in range(blocks):
        top = b * rows * stride
        for j in range(kw):
            dx[top : top + span, :, j : j + stride * w_out : stride, :] += d[b, :, :, j]
    return dx


def conv_forward(
    x: np.ndarray, weight: np.ndarray, stride: int, padding: int,
    bias: np.ndarray | None = None, ws: Workspace | None = None,
) -> tuple[np.ndarray, tuple]:
    """Cross-correlate an image with a bank of kernels and add a bias; eq. (1).

    The bias is added by the matrix product itself: the band gets extra columns holding
    the bias and the block columns extra constant rows (:func:`block_cols`), so no pass
    over the output is spent on it. Such a pass costs more than its size suggests: the
    product runs on both cores, so half of its output sits in the other core's cache, and
    a bias per position is broadcast over the short batch axis. For the seed's conv1
    (float32, batch 64) adding the bias afterwards took 67 us beside 177 us for the
    product; folded in, its 24 extra rows made the product 26% slower, and conv1's
    forward with the pooling after it 8% faster (interleaved in one process).

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
    h_out = output_size(xp.shape[0], kh, stride)
    w_out = output_size(xp.shape[2], kw, stride)
    N = x.shape[3]
    rows = block_rows(h_out)
    blocks = h_out // rows
    bias_rows = 0 if bias is None else 1 if bias.ndim == 1 else w_out
    cols = block_cols(xp, kh, kw, rows, stride, ws, bias_rows)   # (blocks, K + extra, W_out*N)
    weights = band_weights(weight, rows, stride, blocks, bias, ws)  # (blocks, R*C_out, K + extra)
    K = cols.shape[1] - bias_rows
    y = np.empty((h_out, C_out, w_out, N), x.dtype)
    # Block b of rows is y[b*R : (b+1)*R], i.e. (R*C_out, W_out*N): weights[b] @ cols[b].
    np.matmul(weights, cols, out=y.reshape(blocks, rows * C_out, w_out * N))
    return y, (cols[:, :K], weights[0, :, :K], rows, xp.shape)


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
    cols, band, rows, padded_shape = cache
    C_out, C_in, kh, kw = weight.shape
    blocks = cols.shape[0]
    # Eq. (2) one output row at a time: row r's gradient (C_out, W_out*N) times its im2col
    # matrix, summed over the rows. (The band would give it too, as dy @ cols^T, but would
    # spend span/kh times the multiply-adds on the band's zeros; these products are faster.)
    dy_rows = dy.reshape(blocks, rows, C_out, cols.shape[2])  # [b, r]: (C_out, W_out*N)
    im2col = row_windows(cols, kh, C_in * kw, rows, stride)      # [b, r]: (kh*C_in*kw, W_out*N)
    per_row = np.matmul(dy_rows, im2col.transpose(0, 1, 3, 2))   # [b, r]: (C_out, kh*C_in*kw)
    dweight = per_row.sum(axis=(0, 1)).reshape(C_out, kh, C_in, kw).transpose(0, 2, 1, 3)
    if not need_input_grad:
        return None, dweight
    dcols = _scratch(ws, "dcols", cols.shape, dy.dtype)
    np.matmul(band.T, dy.reshape(blocks, band.shape[0], cols.shape[2]), out=dcols)
    dxp = block_col2im(dcols, padded_shape, kh, kw, rows, stride)
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
    per_position = (dy.reshape(-1, dy.shape[3]) @ ones).reshape(dy.shape[:3])  # (H, C, W)
    return per_position.sum(axis=(0, 2)) if tied else per_position.transpose(1, 0, 2).copy()


# ------------------------------------------------------------------------ max-pooling


#: ``winner`` of a window that passes no gradient on (see ``maxpool_forward(relu=True)``);
#: no window position has it, as windows have at most 15 x 15 = 225 positions then.
NO_WINNER = 255


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
    if relu and k * k > NO_WINNER:
        raise ValueError(f"maxpool_forward: relu=True needs k <= 15, got k={k}")
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
