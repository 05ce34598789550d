"""CS231n-style layers written in Python 2 habits, run in Python 3.

Modelled (not copied) on older assignment solutions: the output's size is computed with
`/`, a float in Python 3, so allocating the output raises TypeError
(`conv-size-true-division`); the loss takes `-log` of the label's softmax probability,
which is +inf once that probability underflows to 0 (`ce-log-of-softmax`).
"""

import numpy as np


def conv_forward_naive(x, w, b, conv_param):
    """x: (N, C, H, W), w: (F, C, HH, WW), b: (F,) -> out: (N, F, H', W'), cache."""
    stride, pad = conv_param["stride"], conv_param["pad"]
    N, _, H, W = x.shape
    F, _, HH, WW = w.shape
    H_out = 1 + (H + 2 * pad - HH) / stride        # the mistake: a float in Python 3
    W_out = 1 + (W + 2 * pad - WW) / stride
    out = np.zeros((N, F, H_out, W_out))
    x_pad = np.pad(x, ((0, 0), (0, 0), (pad, pad), (pad, pad)))
    for i in range(out.shape[2]):
        for j in range(out.shape[3]):
            window = x_pad[:, :, i * stride:i * stride + HH, j * stride:j * stride + WW]
            for f in range(F):
                out[:, f, i, j] = np.sum(window * w[f], axis=(1, 2, 3)) + b[f]
    return out, (x, w, b, conv_param)


def conv_backward_naive(dout, cache):
    """dout: (N, F, H', W') -> dx, dw, db (never reached: the forward pass raises)."""
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


def softmax_loss(x, y):
    """x: (N, C) scores, y: (N,) labels -> loss (the batch mean), dx: (N, C)."""
    probs = np.exp(x - np.max(x, axis=1, keepdims=True))
    probs /= np.sum(probs, axis=1, keepdims=True)
    N = x.shape[0]
    loss = -np.sum(np.log(probs[np.arange(N), y])) / N    # the mistake: log(0) = -inf
    dx = probs.copy()
    dx[np.arange(N), y] -= 1
    return loss, dx / N
