"""CS231n-style layers with the two commonest real mistakes of issue 21.

Modelled (not copied) on students' assignment solutions: the convolution's input gradient
is cut out of the padded one with `pad:-pad`, which is empty when the padding is 0
(`conv-input-grad-cut-empty-without-padding`); the max-pool's backward pass *assigns* the
window's gradient at its maximum, so overlapping windows sharing a maximum overwrite each
other (`pool-overlap-overwrites`).
"""

import numpy as np


def conv_forward_naive(x, w, b, conv_param):
    """x: (N, C, H, W), w: (F, C, HH, WW), b: (F,) -> out: (N, F, H', W'), cache."""
    stride, pad = conv_param["stride"], conv_param["pad"]
    F, _, HH, WW = w.shape
    x_pad = np.pad(x, ((0, 0), (0, 0), (pad, pad), (pad, pad)))
    H_out = 1 + (x_pad.shape[2] - HH) // stride
    W_out = 1 + (x_pad.shape[3] - WW) // stride
    out = np.zeros((x.shape[0], F, H_out, W_out))
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
    F, _, HH, WW = w.shape
    x_pad = np.pad(x, ((0, 0), (0, 0), (pad, pad), (pad, pad)))
    dx_pad = np.zeros_like(x_pad)
    dw = np.zeros_like(w)
    for i in range(dout.shape[2]):
        for j in range(dout.shape[3]):
            rows = slice(i * stride, i * stride + HH)
            cols = slice(j * stride, j * stride + WW)
            for f in range(F):
                g = dout[:, f, i, j][:, None, None, None]
                dw[f] += np.sum(x_pad[:, :, rows, cols] * g, axis=0)
                dx_pad[:, :, rows, cols] += w[f] * g
    dx = dx_pad[:, :, pad:-pad, pad:-pad]          # the mistake: empty when pad == 0
    return dx, dw, dout.sum(axis=(0, 2, 3))


def max_pool_forward_naive(x, pool_param):
    """x: (N, C, H, W) -> out: (N, C, H', W'), cache."""
    ph, pw, stride = pool_param["pool_height"], pool_param["pool_width"], pool_param["stride"]
    H_out = 1 + (x.shape[2] - ph) // stride
    W_out = 1 + (x.shape[3] - pw) // stride
    out = np.zeros((*x.shape[:2], H_out, W_out))
    for i in range(H_out):
        for j in range(W_out):
            window = x[:, :, i * stride:i * stride + ph, j * stride:j * stride + pw]
            out[:, :, i, j] = window.max(axis=(2, 3))
    return out, (x, pool_param)


def max_pool_backward_naive(dout, cache):
    """dout: (N, C, H', W') -> dx: (N, C, H, W)."""
    x, pool_param = cache
    ph, pw, stride = pool_param["pool_height"], pool_param["pool_width"], pool_param["stride"]
    dx = np.zeros_like(x)
    for n in range(x.shape[0]):
        for c in range(x.shape[1]):
            for i in range(dout.shape[2]):
                for j in range(dout.shape[3]):
                    window = x[n, c, i * stride:i * stride + ph, j * stride:j * stride + pw]
                    a, k = np.unravel_index(np.argmax(window), window.shape)
                    dx[n, c, i * stride + a, j * stride + k] = dout[n, c, i, j]  # = not +=
    return dx
