"""The convolution kernels' index identities, checked entry by entry against plain loops.

The layers' tests compare whole convolutions with PyTorch; these pin down the pieces that
``scratchnet/kernels.py`` builds them from, so a wrong stride shows up where it is made.
They are exact (indexing and copying only), so they compare with ``array_equal``.
"""

from __future__ import annotations

import numpy as np
import pytest

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


# (C_out, N), input (H, W), kh, kw, stride, padding: strides 1-3 with rows and columns
# the floor drops, oblong kernels, padding (up to past the kernel), batch 0.
DILATED = [((3, 2), (12, 12), 5, 5, 1, 0), ((2, 3), (10, 9), 3, 2, 2, 0),
           ((1, 1), (11, 13), 2, 5, 3, 1), ((2, 1), (4, 5), 2, 2, 2, 3),
           ((2, 0), (7, 7), 3, 3, 2, 1)]


@pytest.mark.parametrize(("sizes", "size", "kh", "kw", "stride", "padding"), DILATED)
def test_dilated_gradient_places_dy_for_the_full_correlation(
        sizes, size, kh, kw, stride, padding) -> None:
    (C_out, N), (H, W) = sizes, size
    h_out, w_out = (kernels.output_size(H, kh, stride, padding),
                    kernels.output_size(W, kw, stride, padding))
    dy_shape = (h_out, C_out, w_out, N)
    rng = np.random.default_rng(2)
    ws = kernels.Workspace()
    kernels.dilated_gradient(rng.standard_normal(dy_shape), (H, 1, W, N), kh, kw, stride,
                             padding, ws)             # a reused workspace must be rewritten
    dy = rng.standard_normal(dy_shape)
    g = kernels.dilated_gradient(dy, (H, 1, W, N), kh, kw, stride, padding, ws)
    expected = np.zeros((H + kh - 1, C_out, W + kw - 1, N))
    for r in range(h_out):
        for q in range(w_out):
            h, w = kh - 1 - padding + r * stride, kw - 1 - padding + q * stride
            if 0 <= h < expected.shape[0] and 0 <= w < expected.shape[2]:
                expected[h, :, w] = dy[r, :, q]
    assert np.array_equal(g, expected)
