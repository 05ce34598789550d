"""The seed's equations (1)-(17) as plain loops: the network as the homework computes it.

Read this first. Each function below computes one equation of the seed report (a student's
homework, ``../shared/seed/homework-report.txt`` in the workplace) and quotes it. They work
on a batch, batch first as the layers' arrays are: images ``(N, C, H, W)``, vectors
``(N, features)``. The loops run over the examples, the output channels and the output
positions, as the equations index them. NumPy does only the innermost work of a step: the
sum over one window (a scalar loop there too would make the tests slow), the matrix-vector
product of one of the seed's column equations, or an element-wise operation. The functions
are written for float64 arrays (the arrays they build are float64) and keep nothing between
calls: a backward function is given what it needs (the input, the weights).

The layers (``scratchnet/layers/``) compute the same numbers with the fast routines of
``scratchnet/kernels.py``; ``tests/test_naive.py`` checks that the two agree, quantity by
quantity, and that these functions agree with PyTorch. The conventions are the layers':
weights ``(C_out, C_in, kh, kw)`` and ``(out, in)``; a convolution's bias ``(C_out,)`` tied,
``(C_out, H_out, W_out)`` untied (the seed's own ``B_i``) or None; parameter gradients summed
over the batch; the loss averaged over it.
"""

from __future__ import annotations

import numpy as np


def window(r: int, c: int, size: tuple[int, int], stride: int) -> tuple[slice, slice]:
    """The rows and columns of the ``size = (kh, kw)`` window that output ``(r, c)`` sees,
    in a convolution's (padded) input or a pooling's input."""
    kh, kw = size
    return slice(r * stride, r * stride + kh), slice(c * stride, c * stride + kw)


# ------------------------------------------------------------------- convolution, (1)-(4)


def pad(x: np.ndarray, padding: int) -> np.ndarray:
    """``x: (N, C, H, W)`` -> ``(N, C, H + 2p, W + 2p)``: ``p = padding`` zeros around each
    image."""
    p = padding
    return np.pad(x, ((0, 0), (0, 0), (p, p), (p, p)))


def bias_matrices(bias: np.ndarray | None, shape: tuple[int, int, int]) -> np.ndarray:
    """The seed's ``B_i`` of every output channel, ``shape = (C_out, H_out, W_out)``: an
    untied bias as it is, a tied bias ``(C_out,)`` repeated at every position, no bias zeros."""
    if bias is None:
        return np.zeros(shape)
    if bias.ndim == 1:
        return np.zeros(shape) + bias[:, None, None]
    return bias


def conv_forward(x: np.ndarray, weight: np.ndarray, bias: np.ndarray | None = None,
                 stride: int = 1, padding: int = 0) -> np.ndarray:
    """Eq. (1): ``Y_i = B_i + sum_j X_j (*) K_ij``.

    ``(*)`` is cross-correlation (the kernel is not rotated): output ``(r, c)`` of channel
    ``i`` is the window of the zero-padded input that starts at row ``r*stride``, column
    ``c*stride``, times ``K_i``, summed over the window and the input channels ``j``.

    Args:
        x: ``(N, C_in, H, W)``.
        weight: ``(C_out, C_in, kh, kw)``, the kernels ``K_ij``.
        bias: ``(C_out,)`` tied, ``(C_out, H_out, W_out)`` untied, or None.

    Returns:
        ``y: (N, C_out, H_out, W_out)``, ``H_out = (H + 2*padding - kh) // stride + 1``
        (likewise ``W_out``): a last window that does not fit is dropped.
    """
    xp = pad(x, padding)
    C_out, _, kh, kw = weight.shape
    H_out = (xp.shape[2] - kh) // stride + 1
    W_out = (xp.shape[3] - kw) // stride + 1
    y = np.zeros((x.shape[0], C_out, H_out, W_out))
    B = bias_matrices(bias, y.shape[1:])
    for n, i, r, c in np.ndindex(y.shape):
        rows, cols = window(r, c, (kh, kw), stride)
        y[n, i, r, c] = B[i, r, c] + np.sum(xp[n, :, rows, cols] * weight[i])
    return y


def conv_weight_grad(x: np.ndarray, grad_y: np.ndarray, kernel_size: tuple[int, int],
                     stride: int = 1, padding: int = 0) -> np.ndarray:
    """Eq. (2): ``dE/dK_ij = X_j (*) dE/dY_i``, summed over the batch.

    Output ``(r, c)`` of channel ``i`` met the kernel ``K_i`` on one window, so its
    gradient ``G[n, i, r, c]`` times that window adds to ``dE/dK_i``. Entry ``(u, v)`` thus
    collects ``G_i`` times the pixels of ``X_j`` it met, rows ``u, u + stride, ...`` and
    columns ``v, v + stride, ...``: the seed's ``X_j (*) G_i``.

    Args:
        x: ``(N, C_in, H, W)``, the layer's input.
        grad_y: ``(N, C_out, H_out, W_out)``, ``G = dE/dY``.
        kernel_size: ``(kh, kw)``.

    Returns:
        ``(C_out, C_in, kh, kw)``.
    """
    xp = pad(x, padding)
    grad = np.zeros((grad_y.shape[1], x.shape[1], *kernel_size))
    for n, i, r, c in np.ndindex(grad_y.shape):
        rows, cols = window(r, c, kernel_size, stride)
        grad[i] += grad_y[n, i, r, c] * xp[n, :, rows, cols]
    return grad


def conv_bias_grad(grad_y: np.ndarray, tied: bool) -> np.ndarray:
    """Eq. (3): ``dE/dB_i = dE/dY_i``, summed over the batch, and for a tied bias (one
    value for all of ``B_i``) also over the positions.

    Args:
        grad_y: ``(N, C_out, H_out, W_out)``.

    Returns:
        ``(C_out,)`` tied, ``(C_out, H_out, W_out)`` untied.
    """
    per_position = grad_y.sum(axis=0)
    return per_position.sum(axis=(1, 2)) if tied else per_position


def conv_input_grad(grad_y: np.ndarray, weight: np.ndarray, x_shape: tuple[int, ...],
                    stride: int = 1, padding: int = 0) -> np.ndarray:
    """Eq. (4): ``dE/dX_j = sum_i dE/dY_i (*full) R180(K_ij)``.

    Output ``(r, c)`` of channel ``i`` saw its window through ``K_i``; its gradient goes
    back to that window through ``K_i``, and where windows overlap the gradients add up.
    The entry of ``K_i`` that met input row ``h`` from output row ``r`` is
    ``u = h - r*stride``: it runs backwards as ``r`` runs forwards, so what an input pixel
    collects is the seed's correlation of ``G_i`` (spread out ``stride`` apart, padded by
    ``kh - 1`` zeros: "full") with the kernel rotated by 180 degrees. The gradient of the
    padding is dropped.

    Args:
        grad_y: ``(N, C_out, H_out, W_out)``.
        weight: ``(C_out, C_in, kh, kw)``.
        x_shape: ``(N, C_in, H, W)``, the input's shape.

    Returns:
        ``(N, C_in, H, W)``.
    """
    N, C_in, H, W = x_shape
    p = padding
    grad = np.zeros((N, C_in, H + 2 * p, W + 2 * p))
    for n, i, r, c in np.ndindex(grad_y.shape):
        rows, cols = window(r, c, weight.shape[2:], stride)
        grad[n, :, rows, cols] += grad_y[n, i, r, c] * weight[i]
    return grad[:, :, p : p + H, p : p + W]


# ------------------------------------------------------------------- max-pooling, (5)-(6)


def maxpool_forward(x: np.ndarray, k: int, stride: int) -> np.ndarray:
    """Eq. (5): ``Y = Max(I_slide)``: each output is the maximum of its ``k x k`` window
    (NaN when the window holds a NaN, as in PyTorch).

    Args:
        x: ``(N, C, H, W)``.

    Returns:
        ``(N, C, (H - k) // stride + 1, (W - k) // stride + 1)``: a last window that does
        not fit is dropped.
    """
    N, C, H, W = x.shape
    y = np.zeros((N, C, (H - k) // stride + 1, (W - k) // stride + 1))
    for n, ch, r, c in np.ndindex(y.shape):
        rows, cols = window(r, c, (k, k), stride)
        y[n, ch, r, c] = np.max(x[n, ch, rows, cols])
    return y


def pool_cache(slide: np.ndarray) -> np.ndarray:
    """The seed's Cache for one window ``I_slide``, ``(k, k) -> (k, k)``: 1 where the
    maximum came from, 0 elsewhere.

    The seed marks every maximum; then a window holding several (a window of zeros, common
    on digits) would pass its gradient on several times. Here exactly one element gets the
    1: the first maximum in row-major order, as PyTorch. A NaN is the maximum, and of
    several NaNs the last (again as PyTorch).
    """
    flat = slide.ravel()
    nans = np.flatnonzero(np.isnan(flat))
    winner = nans[-1] if nans.size else np.argmax(flat)   # argmax: the first maximum
    cache = np.zeros(flat.size)
    cache[winner] = 1.0
    return cache.reshape(slide.shape)


def maxpool_backward(x: np.ndarray, grad_y: np.ndarray, k: int, stride: int) -> np.ndarray:
    """Eq. (6): ``dE/dX = Cache * dE/dY``, window by window; where windows overlap
    (``stride < k``) their gradients add up.

    Args:
        x: ``(N, C, H, W)``, the layer's input.
        grad_y: ``(N, C, H_out, W_out)``.

    Returns:
        ``(N, C, H, W)``.
    """
    grad = np.zeros(x.shape)
    for n, ch, r, c in np.ndindex(grad_y.shape):
        rows, cols = window(r, c, (k, k), stride)
        grad[n, ch, rows, cols] += pool_cache(x[n, ch, rows, cols]) * grad_y[n, ch, r, c]
    return grad


# ---------------------------------------------------------------- fully connected, (7)-(10)
# The seed writes one example as a column X; here each example is a row of x, x[n] = X.


def dense_forward(x: np.ndarray, weight: np.ndarray, bias: np.ndarray) -> np.ndarray:
    """Eq. (7): ``Y = W X + B``, for each example.

    Args:
        x: ``(N, in)``; weight: ``(out, in)``; bias: ``(out,)``.

    Returns:
        ``(N, out)``.
    """
    y = np.zeros((x.shape[0], weight.shape[0]))
    for n in range(x.shape[0]):
        y[n] = weight @ x[n] + bias
    return y


def dense_weight_grad(x: np.ndarray, grad_y: np.ndarray) -> np.ndarray:
    """Eq. (8): ``dE/dW = dE/dY X^T``, summed over the batch.

    Args:
        x: ``(N, in)``, the layer's input; grad_y: ``(N, out)``.

    Returns:
        ``(out, in)``.
    """
    grad = np.zeros((grad_y.shape[1], x.shape[1]))
    for n in range(x.shape[0]):
        grad += np.outer(grad_y[n], x[n])
    return grad


def dense_bias_grad(grad_y: np.ndarray) -> np.ndarray:
    """Eq. (9): ``dE/dB = dE/dY``, summed over the batch: ``(N, out) -> (out,)``."""
    return grad_y.sum(axis=0)


def dense_input_grad(grad_y: np.ndarray, weight: np.ndarray) -> np.ndarray:
    """Eq. (10): ``dE/dX = W^T dE/dY``, for each example.

    Args:
        grad_y: ``(N, out)``; weight: ``(out, in)``.

    Returns:
        ``(N, in)``.
    """
    grad = np.zeros((grad_y.shape[0], weight.shape[1]))
    for n in range(grad_y.shape[0]):
        grad[n] = weight.T @ grad_y[n]
    return grad


# ------------------------------------------------------------------ activations, (11)-(14)


def relu_forward(x: np.ndarray) -> np.ndarray:
    """Eq. (11): ``y = max(0, x)``, element by element (a NaN stays NaN); ``x`` of any
    shape -> ``y`` of the same."""
    return np.maximum(x, 0.0)


def relu_backward(x: np.ndarray, grad_y: np.ndarray) -> np.ndarray:
    """Eq. (12): ``dy/dx = 0`` for ``x < 0``, ``1`` for ``x > 0``, times ``dE/dy``.

    The seed leaves ``x = 0`` open; there the derivative is 0, as in PyTorch. A NaN passes
    its gradient on, as in PyTorch (``NaN <= 0`` is false).

    Args:
        x: the layer's input, any shape; grad_y: ``dE/dy``, the same shape.

    Returns:
        ``dE/dx``, the same shape.
    """
    return np.where(x <= 0, 0.0, grad_y)


def identity_forward(x: np.ndarray) -> np.ndarray:
    """Eq. (13), the seed's "Linear" activation: ``y = x``, any shape."""
    return x


def identity_backward(grad_y: np.ndarray) -> np.ndarray:
    """Eq. (14): ``dy/dx = 1``, so ``dE/dx = dE/dy``, any shape."""
    return grad_y


# ---------------------------------------------------- softmax and cross-entropy, (15)-(17)


def one_hot(labels: np.ndarray, classes: int) -> np.ndarray:
    """The seed's ``y``: ``labels (N,)`` integers -> ``(N, classes)``, 1 at the label."""
    y = np.zeros((len(labels), classes))
    for n, label in enumerate(labels):
        y[n, label] = 1.0
    return y


def log_softmax(logits: np.ndarray) -> np.ndarray:
    """The logarithm of eq. (15), ``y_hat_i = e^{x_i} / sum_k e^{x_k}``, shifted by the
    maximum as the seed's (18) does: ``ln y_hat_i = (x_i - m) - ln sum_k e^{x_k - m}``,
    ``m = max_k x_k``.

    The shift keeps ``e^{...}`` from overflowing; taking the logarithm this way, not of
    ``y_hat`` itself, keeps it finite where ``y_hat`` underflows to 0.

    Args:
        logits: ``(N, K)``, one row of ``x`` per example.

    Returns:
        ``(N, K)``.
    """
    shifted = logits - logits.max(axis=1, keepdims=True)
    return shifted - np.log(np.exp(shifted).sum(axis=1, keepdims=True))


def softmax(logits: np.ndarray) -> np.ndarray:
    """Eq. (15) with the shift of (18): ``y_hat``, ``(N, K) -> (N, K)``."""
    return np.exp(log_softmax(logits))


def cross_entropy(log_probs: np.ndarray, labels: np.ndarray) -> float:
    """Eq. (16) with its minus sign: ``L = -sum_i y_i ln y_hat_i``, averaged over the batch.

    The seed prints (16) without the minus: that loss is negative and is lowest for the
    worst predictions.

    Args:
        log_probs: ``(N, K)``, ``ln y_hat`` (``log_softmax``); labels: ``(N,)`` integers.
    """
    y = one_hot(labels, log_probs.shape[1])
    return float(-np.sum(y * log_probs) / len(labels))


def cross_entropy_grad(probs: np.ndarray, labels: np.ndarray) -> np.ndarray:
    """Eq. (17): ``dL/dx_j = y_hat_j - y_j`` (the seed writes the indices as ``i``),
    divided by ``N`` for the average over the batch.

    Args:
        probs: ``(N, K)``, ``y_hat`` (``softmax``); labels: ``(N,)`` integers.

    Returns:
        ``(N, K)``, the gradient of the loss with respect to the logits.
    """
    return (probs - one_hot(labels, probs.shape[1])) / len(labels)
