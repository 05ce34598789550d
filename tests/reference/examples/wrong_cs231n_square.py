"""CS231n-style layers tried only on square images.

Modelled (not copied) on solutions and tutorials that take one side of the image for
both: the convolution's output is `H_out x H_out` (`conv-assumes-square-input`), and the
max-pool's loop over the columns stops by the rows' size, as copied from the loop over
the rows (`pool-loop-exit-wrong-size`).
"""

import numpy as np


def conv_forward_naive(x, w, b, conv_param):
    """x: (N, C, H, W), w: (F, C, HH, WW), b: (F,) -> out: (N, F, H', H'), cache."""
    stride, pad = conv_param["stride"], conv_param["pad"]
    N, _, H, _ = x.shape
    F, _, HH, WW = w.shape
    H_out = 1 + (H + 2 * pad - HH) // stride
    W_out = H_out                                  # the mistake: square images only
    x_pad = np.pad(x, ((0, 0), (0, 0), (pad, pad), (pad, pad)))
    out = np.zeros((N, F, H_out, W_out))
    for i in range(H_out):
        for j in range(W_out):
            window = x_pad[:, :, i * stride:i * stride + HH, j * stride:j * stride + WW]
            for f in range(F):
                out[:, f, i, j] = np.sum(window * w[f], axis=(1, 2, 3)) + b[f]
    return out, (x, w, b, conv_param)


def conv_backward_naive(dout, cache):
    """dout: (N, F, H', W') -> dx, dw, db."""
    x, w, _, conv_param = cache
    stride, pad = conv_param["stride"], conv_param["pad"]
    HH, WW = w.shape[2:]
    x_pad = np.pad(x, ((0, 0), (0, 0), (pad, pad), (pad, pad)))
    dx_pad, dw = np.zeros_like(x_pad), np.zeros_like(w)
    for i in range(dout.shape[2]):
        for j in range(dout.shape[3]):
            rows = slice(i * stride, i * stride + HH)
            cols = slice(j * stride, j * stride + WW)
            for f in range(w.shape[0]):
                g = dout[:, f, i, j][:, None, None, None]
                dw[f] += np.sum(x_pad[:, :, rows, cols] * g, axis=0)
                dx_pad[:, :, rows, cols] += w[f] * g
    return dx_pad[:, :, pad:pad + x.shape[2], pad:pad + x.shape[3]], dw, dout.sum(axis=(0, 2, 3))


def _windows(H, ph, pw, stride):
    """The windows' corners, rows and columns, as the forward and backward loops walk."""
    i = out_i = 0
    while i + ph <= H:
        j = out_j = 0
        while j + pw <= H:                         # the mistake: H where W belongs
            yield out_i, out_j, i, j
            j, out_j = j + stride, out_j + 1
        i, out_i = i + stride, out_i + 1


def max_pool_forward_naive(x, pool_param):
    """x: (N, C, H, W) -> out: (N, C, H', W'), cache."""
    ph, pw, stride = pool_param["pool_height"], pool_param["pool_width"], pool_param["stride"]
    N, C, H, W = x.shape
    out = np.zeros((N, C, 1 + (H - ph) // stride, 1 + (W - pw) // stride))
    for out_i, out_j, i, j in _windows(H, ph, pw, stride):
        out[:, :, out_i, out_j] = x[:, :, i:i + ph, j:j + pw].max(axis=(2, 3))
    return out, (x, pool_param)


def max_pool_backward_naive(dout, cache):
    """dout: (N, C, H', W') -> dx: (N, C, H, W)."""
    x, pool_param = cache
    ph, pw, stride = pool_param["pool_height"], pool_param["pool_width"], pool_param["stride"]
    dx = np.zeros_like(x)
    for out_i, out_j, i, j in _windows(x.shape[2], ph, pw, stride):
        window = x[:, :, i:i + ph, j:j + pw].reshape(*x.shape[:2], -1)
        first = window.argmax(axis=2)
        for n in range(x.shape[0]):
            for c in range(x.shape[1]):
                a, k = divmod(first[n, c], pw)
                dx[n, c, i + a, j + k] += dout[n, c, out_i, out_j]
    return dx
