"""The convolution kernels' index identities, checked entry by entry against plain loops.

The layers' tests compare whole convolutions with PyTorch; these pin down the pieces that
``scratchnet/kernels.py`` builds them from, so a wrong stride shows up where it is made.
They are exact (indexing and copying only), so they compare with ``array_equal``.
"""

from __future__ import annotations

import numpy as np
import pytest

from reference.agreement import assert_agree
from scratchnet import kernels

# (H, C, W, N), kh, kw, stride: square and oblong kernels, strides 1-3, odd sizes.
CASES = [((12, 3, 9, 2), 5, 5, 1), ((7, 2, 11, 3), 3, 2, 2), ((10, 1, 8, 1), 2, 4, 3)]


@pytest.mark.parametrize(("shape", "kh", "kw", "stride"), CASES)
def test_row_windows_are_each_output_rows_im2col(shape, kh, kw, stride) -> None:
    H, C, W, N = shape
    x = np.random.default_rng(0).standard_normal(shape)
    windows = kernels.row_windows(kernels.shifted_columns(x, kw, stride), kh, stride)
    h_out, w_out = kernels.output_size(H, kh, stride), kernels.output_size(W, kw, stride)
    assert windows.shape == (h_out, kh * C * kw, w_out * N)
    im2col = np.empty((h_out, kh, C, kw, w_out, N))
    for r in range(h_out):
        for i in range(kh):
            for j in range(kw):
                for q in range(w_out):
                    im2col[r, i, :, j, q] = x[r * stride + i, :, q * stride + j]
    assert np.array_equal(windows, im2col.reshape(windows.shape))
    assert not windows.flags.writeable  # the windows of neighbouring rows share memory
    assert kernels.shifted_columns(x.astype(np.float32), kw, stride).dtype == np.float32


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_pad_spatial_surrounds_the_image_with_zeros(dtype) -> None:
    x = np.random.default_rng(0).standard_normal((3, 2, 4, 5)).astype(dtype)  # (H, C, W, N)
    assert kernels.pad_spatial(x, 0) is x
    padded = kernels.pad_spatial(x, 2)
    assert padded.shape == (7, 2, 8, 5) and padded.dtype == dtype
    assert np.array_equal(padded[2:-2, :, 2:-2], x)
    padded[2:-2, :, 2:-2] = 0
    assert not padded.any()


@pytest.mark.parametrize(("h_out", "kh", "stride"), [(4, 3, 1), (3, 2, 2), (2, 3, 3), (1, 5, 1)])
def test_spread_rows_puts_each_output_row_stride_apart_between_zeros(h_out, kh, stride) -> None:
    # An input height the floor leaves a row over at stride 2 and 3, as a forward drops it.
    height = (h_out - 1) * stride + kh + (stride > 1)
    dy = np.random.default_rng(2).standard_normal((h_out, 2, 3, 4))   # (H_out, C_out, W_out, N)
    ws = kernels.Workspace()
    kernels.spread_rows(2 * dy, height, kh, stride, ws)   # a reused workspace must be rewritten
    spread = kernels.spread_rows(dy, height, kh, stride, ws)
    expected = np.zeros((height + kh - 1, 2, 3, 4))
    for r in range(h_out):
        expected[kh - 1 + r * stride] = dy[r]
    assert np.array_equal(spread, expected.reshape(spread.shape))
    # Without a workspace the zeros are written into a fresh array; the dtype is kept.
    assert np.array_equal(kernels.spread_rows(dy, height, kh, stride), spread)
    assert kernels.spread_rows(dy.astype(np.float32), height, kh, stride).dtype == np.float32


def test_rotated_kernel_reverses_the_rows_and_swaps_the_channels() -> None:
    C_out, C_in, kh, kw = 2, 3, 4, 5
    weight = np.random.default_rng(1).standard_normal((C_out, C_in, kh, kw))
    kernel = kernels.rotated_kernel(weight).reshape(C_in, kw, kh, C_out)
    for o, c, t, j in np.ndindex(C_out, C_in, kh, kw):
        assert kernel[c, j, t, o] == weight[o, c, kh - 1 - t, j]


@pytest.mark.parametrize(("shape", "kw", "stride"), [
    ((3, 2, 7, 3), 3, 1),    # odd sizes
    ((2, 1, 5, 2), 4, 1),    # a kernel almost as wide as the row
    ((2, 2, 10, 3), 3, 2),   # stride 2, a column the floor leaves over: the shifts one at a time
    ((2, 1, 4, 0), 2, 1),    # an empty batch
])
def test_add_shifts_adds_each_entry_where_it_belongs(shape, kw, stride) -> None:
    """Every entry ``[h, (c, j), (margin + q, n)]`` lands on ``dx[h, c, q*stride + j, n]``,
    added up where entries meet; the zero margins around the columns stay out."""
    H, C, W, N = shape
    w_out, margin = kernels.output_size(W, kw, stride), kernels.shift_margin(kw)
    entries = np.random.default_rng(3).standard_normal((H, C, kw, w_out, N))
    dcols = np.zeros((H, C * kw, (w_out + 2 * margin) * N))
    dcols[:, :, margin * N : (margin + w_out) * N] = entries.reshape(H, C * kw, -1)
    expected = np.zeros(shape)
    for h, c, j, q in np.ndindex(H, C, kw, w_out):
        expected[h, c, q * stride + j] += entries[h, c, j, q]
    got = kernels.add_shifts(dcols, shape, kw, stride)
    np.testing.assert_allclose(got, expected, rtol=1e-14, atol=1e-14)  # only the order of
    # the additions differs (float64: a few ulps of sums of at most kw terms)


def test_workspace_reuses_an_array_only_of_the_same_name_shape_and_dtype() -> None:
    ws, made = kernels.Workspace(), []
    a = ws.get("a", (2, 3), np.dtype(np.float64), made.append)
    assert ws.get("a", (2, 3), np.dtype(np.float64), made.append) is a
    assert made == [a]                                  # init runs for a new array only
    for name, shape, dtype in [("b", (2, 3), np.float64), ("a", (3, 2), np.float64),
                               ("a", (2, 3), np.float32)]:
        b = ws.get(name, shape, np.dtype(dtype), made.append)
        assert b is not a and b.shape == shape and b.dtype == dtype and made[-1] is b
    assert kernels.Workspace().get("a", (2,), np.dtype(np.float32)).shape == (2,)


def test_pooling_windows_are_read_only_views() -> None:
    # Overlapping windows share memory: a write through one would change its neighbours.
    x = np.random.default_rng(0).standard_normal((5, 2, 5, 6))
    for layout in (x, x[..., ::2]):  # contiguous and not (two ways of making the view)
        view = kernels._window_view(layout, 3, 3, 1)
        assert not view.flags.writeable and np.shares_memory(view, x)


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("tied", [True, False])
def test_bias_grad_sums_over_the_batch_in_the_input_dtype(dtype, tied: bool) -> None:
    dy = np.random.default_rng(0).standard_normal((4, 3, 5, 6)).astype(dtype)  # (H, C, W, N)
    expected = dy.astype(np.float64).sum(axis=(0, 2, 3) if tied else 3)
    grad = kernels.bias_grad(dy, tied)
    assert grad.dtype == dtype
    assert_agree(grad, expected if tied else expected.transpose(1, 0, 2), dtype, "bias grad")


def test_defaults_are_plain_pooling_and_the_full_convolution_gradient() -> None:
    """maxpool_forward pools without a ReLU and conv_backward gives the input gradient
    unless told otherwise (the layers always say; other callers get the plain operation)."""
    x = np.random.default_rng(0).standard_normal((6, 2, 4, 3))          # (H, C, W, N)
    y, winner = kernels.maxpool_forward(x, 2, 2)
    assert np.array_equal(y, x.reshape(3, 2, 2, 2, 2, 3).max(axis=(1, 4)))
    assert (y < 0).any() and winner is not None
    weight = np.random.default_rng(1).standard_normal((3, 2, 3, 3))
    out, cache = kernels.conv_forward(x, weight, 1, 1)
    dy = np.random.default_rng(2).standard_normal(out.shape)
    dx, dweight = kernels.conv_backward(dy, cache, weight, 1, 1)
    dx_asked, dweight_asked = kernels.conv_backward(dy, cache, weight, 1, 1, True)
    assert np.array_equal(dx, dx_asked) and np.array_equal(dweight, dweight_asked)
