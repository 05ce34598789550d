"""Right layers in the CS231n assignments' conventions: functions with caches.

Written for the checker's tests in the style of the course's `layers.py` (the shapes in
the docstrings, loops over output positions, `np.pad` for the padding); none of it is
copied. Each wrong_cs231n*.py file changes one or two of these functions the way real
students' solutions do.
"""

import numpy as np


def conv_forward_naive(x, w, b, conv_param):
    """x: (N, C, H, W), w: (F, C, HH, WW), b: (F,), conv_param {'stride', 'pad'} ->
    out: (N, F, H', W'), H' = 1 + (H + 2 * pad - HH) // stride; cache."""
    stride, pad = conv_param["stride"], conv_param["pad"]
    N, _, H, W = x.shape
    F, _, HH, WW = w.shape
    H_out = 1 + (H + 2 * pad - HH) // stride
    W_out = 1 + (W + 2 * pad - WW) // stride
    x_pad = np.pad(x, ((0, 0), (0, 0), (pad, pad), (pad, pad)))
    out = np.zeros((N, F, H_out, W_out))
    for i in range(H_out):
        for j in range(W_out):
            window = x_pad[:, :, i * stride:i * stride + HH, j * stride:j * stride + WW]
            for f in range(F):
                out[:, f, i, j] = np.sum(window * w[f], axis=(1, 2, 3)) + b[f]
    return out, (x, w, b, conv_param)


def conv_backward_naive(dout, cache):
    """dout: (N, F, H', W') -> dx: (N, C, H, W), dw: (F, C, HH, WW), db: (F,)."""
    x, w, _, conv_param = cache
    stride, pad = conv_param["stride"], conv_param["pad"]
    H, W = x.shape[2:]
    F, _, HH, WW = w.shape
    x_pad = np.pad(x, ((0, 0), (0, 0), (pad, pad), (pad, pad)))
    dx_pad = np.zeros_like(x_pad)
    dw = np.zeros_like(w)
    db = dout.sum(axis=(0, 2, 3))
    for i in range(dout.shape[2]):
        for j in range(dout.shape[3]):
            rows = slice(i * stride, i * stride + HH)
            cols = slice(j * stride, j * stride + WW)
            for f in range(F):
                g = dout[:, f, i, j][:, None, None, None]
                dw[f] += np.sum(x_pad[:, :, rows, cols] * g, axis=0)
                dx_pad[:, :, rows, cols] += w[f] * g
    dx = dx_pad[:, :, pad:pad + H, pad:pad + W]
    return dx, dw, db


def max_pool_forward_naive(x, pool_param):
    """x: (N, C, H, W), pool_param {'pool_height', 'pool_width', 'stride'} -> out, cache."""
    ph, pw, stride = pool_param["pool_height"], pool_param["pool_width"], pool_param["stride"]
    N, C, H, W = x.shape
    H_out, W_out = 1 + (H - ph) // stride, 1 + (W - pw) // stride
    out = np.zeros((N, C, H_out, W_out))
    for i in range(H_out):
        for j in range(W_out):
            window = x[:, :, i * stride:i * stride + ph, j * stride:j * stride + pw]
            out[:, :, i, j] = window.max(axis=(2, 3))
    return out, (x, pool_param)


def max_pool_backward_naive(dout, cache):
    """dout: (N, C, H', W') -> dx: (N, C, H, W): each window's gradient added at its
    first maximum."""
    x, pool_param = cache
    ph, pw, stride = pool_param["pool_height"], pool_param["pool_width"], pool_param["stride"]
    dx = np.zeros_like(x)
    for n in range(x.shape[0]):
        for c in range(x.shape[1]):
            for i in range(dout.shape[2]):
                for j in range(dout.shape[3]):
                    window = x[n, c, i * stride:i * stride + ph, j * stride:j * stride + pw]
                    a, k = np.unravel_index(np.argmax(window), window.shape)
                    dx[n, c, i * stride + a, j * stride + k] += dout[n, c, i, j]
    return dx


def affine_forward(x, w, b):
    """x: (N, d_1, ..., d_k), w: (D, M), b: (M,) -> out: (N, M), cache."""
    out = x.reshape(x.shape[0], -1) @ w + b
    return out, (x, w, b)


def affine_backward(dout, cache):
    """dout: (N, M) -> dx: (N, d_1, ..., d_k), dw: (D, M), db: (M,)."""
    x, w, _ = cache
    dx = (dout @ w.T).reshape(x.shape)
    dw = x.reshape(x.shape[0], -1).T @ dout
    db = dout.sum(axis=0)
    return dx, dw, db


def relu_forward(x):
    return np.maximum(0, x), x


def relu_backward(dout, cache):
    return dout * (cache > 0)


def softmax_loss(x, y):
    """x: (N, C) scores, y: (N,) labels -> loss (the batch mean), dx: (N, C)."""
    shifted = x - x.max(axis=1, keepdims=True)
    log_probs = shifted - np.log(np.exp(shifted).sum(axis=1, keepdims=True))
    N = x.shape[0]
    loss = -log_probs[np.arange(N), y].sum() / N
    dx = np.exp(log_probs)
    dx[np.arange(N), y] -= 1
    return loss, dx / N
