"""CS231n-style layers with a course's conventions carried where they do not hold.

Modelled (not copied) on solutions that copy the fast convolution's size check into the
naive one, `assert (W + 2 * pad - WW) % stride == 0, 'width does not work'`, where PyTorch
drops the rows and columns left over (`conv-assert-stride-divides`); and on an affine
layer that divides its weight and bias gradients by the batch size, a convention right
only for a loss whose gradient is not averaged (`dense-bias-grad-averaged`).
"""

import numpy as np


def conv_forward_naive(x, w, b, conv_param):
    """x: (N, C, H, W), w: (F, C, HH, WW), b: (F,) -> out: (N, F, H', W'), cache."""
    stride, pad = conv_param["stride"], conv_param["pad"]
    N, _, H, W = x.shape
    F, _, HH, WW = w.shape
    assert (W + 2 * pad - WW) % stride == 0, "width does not work"     # the mistake
    assert (H + 2 * pad - HH) % stride == 0, "height does not work"
    H_out, W_out = 1 + (H + 2 * pad - HH) // stride, 1 + (W + 2 * pad - WW) // stride
    x_pad = np.pad(x, ((0, 0), (0, 0), (pad, pad), (pad, pad)))
    out = np.zeros((N, F, H_out, W_out))
    for i in range(H_out):
        for j in range(W_out):
            window = x_pad[:, :, i * stride:i * stride + HH, j * stride:j * stride + WW]
            out[:, :, i, j] = np.tensordot(window, w, axes=([1, 2, 3], [1, 2, 3])) + b
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
            g = dout[:, :, i, j]                                   # (N, F)
            dw += np.tensordot(g, x_pad[:, :, rows, cols], axes=([0], [0]))
            dx_pad[:, :, rows, cols] += np.tensordot(g, w, axes=([1], [0]))
    return dx_pad[:, :, pad:pad + x.shape[2], pad:pad + x.shape[3]], dw, dout.sum(axis=(0, 2, 3))


def affine_forward(x, w, b):
    """x: (N, d_1, ..., d_k), w: (D, M), b: (M,) -> out: (N, M), cache."""
    return x.reshape(x.shape[0], -1).dot(w) + b, (x, w, b)


def affine_backward(dout, cache):
    """dout: (N, M) -> dx: (N, d_1, ..., d_k), dw: (D, M), db: (M,)."""
    x, w, _ = cache
    N = x.shape[0]
    dx = dout.dot(w.T).reshape(x.shape)
    dw = x.reshape(N, -1).T.dot(dout) / N          # the convention: divided by N
    db = np.sum(dout, axis=0) / N
    return dx, dw, db
