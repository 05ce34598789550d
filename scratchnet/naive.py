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

After the seed's equations come the layers courses assign next (dropout, batch norm, layer
norm, average pooling, sigmoid, tanh, leaky ReLU): the seed has no equations for them, so
each function there quotes the formula as PyTorch's documentation states it.

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


# =========================================================================================
# The layers courses assign next. The seed has no equations for these; each function quotes
# the formula as PyTorch's documentation states it (torch.nn.<Layer>), and its derivative.
# =========================================================================================

# --------------------------------------------------------------------------------- dropout
# torch.nn.Dropout: "During training, randomly zeroes some of the elements of the input
# tensor with probability p ... Furthermore, the outputs are scaled by a factor of 1/(1-p)
# during training. This means that during evaluation the module simply computes an identity
# function." With the keep mask m (1 where kept):  y = m * x / (1 - p),  dy/dx = m / (1 - p).


def dropout_forward(x: np.ndarray, keep: np.ndarray, p: float) -> np.ndarray:
    """Training-mode dropout, ``y = m x / (1 - p)``, element by element (``y = 0 * x`` when
    ``p = 1``: everything dropped, nothing divided by zero).

    Args:
        x: any shape; keep: the mask ``m``, booleans of ``x``'s shape (True: kept).

    Returns:
        ``y``, ``x``'s shape.
    """
    y = np.zeros(x.shape)
    scale = 0.0 if p == 1 else 1.0 / (1.0 - p)
    for i in np.ndindex(x.shape):
        y[i] = x[i] * (scale if keep[i] else 0.0)
    return y


def dropout_backward(grad_y: np.ndarray, keep: np.ndarray, p: float) -> np.ndarray:
    """``dE/dx = m dE/dy / (1 - p)``: the gradient goes back through the kept values only,
    scaled as they were. ``grad_y``, ``keep``: one shape -> ``dE/dx`` of that shape."""
    return dropout_forward(grad_y, keep, p)


# ------------------------------------------------------------------------------ batch norm
# torch.nn.BatchNorm1d / BatchNorm2d:  y = (x - E[x]) / sqrt(Var[x] + eps) * gamma + beta.
# "The mean and standard-deviation are calculated per-dimension over the mini-batches"
# (BatchNorm2d: "over the (N, H, W) slices", one per channel C). "The variance is calculated
# via the biased estimator, equivalent to torch.var(input, unbiased=False). However, the
# value stored in the moving average of the standard-deviation is calculated via the
# unbiased estimator." Running statistics: x_new = (1 - momentum) * x_hat + momentum * x_t,
# "where x_hat is the estimated statistic and x_t is the new observed value"; in eval mode
# the running statistics take the place of E[x] and Var[x].
# Its gradients, with x_hat = (x - E[x]) / sqrt(Var[x] + eps) and M values per channel,
# g = dE/dy * gamma:
#   dE/dx     = (g - (1/M) sum g - x_hat (1/M) sum g x_hat) / sqrt(Var[x] + eps)  (training)
#   dE/dx     = g / sqrt(running_var + eps)                                       (eval)
#   dE/dgamma = sum dE/dy x_hat,   dE/dbeta = sum dE/dy     (sums over the M values)


def channel_values(a: np.ndarray, c: int) -> np.ndarray:
    """The values of channel ``c`` of ``a: (N, C, ...)``, one flat array of ``M``."""
    return a[:, c].ravel()


def batchnorm_forward(x: np.ndarray, gamma: np.ndarray, beta: np.ndarray,
                      eps: float) -> np.ndarray:
    """Training mode: ``y = (x - E[x]) / sqrt(Var[x] + eps) * gamma + beta``, ``E`` and
    the biased ``Var`` over each channel's values in the batch.

    Args:
        x: ``(N, C)`` or ``(N, C, H, W)`` (any ``(N, C, ...)``); gamma, beta: ``(C,)``.

    Returns:
        ``y``, ``x``'s shape.
    """
    y = np.zeros(x.shape)
    for c in range(x.shape[1]):
        values = channel_values(x, c)
        mean = np.sum(values) / values.size
        var = np.sum((values - mean) ** 2) / values.size
        y[:, c] = (x[:, c] - mean) / np.sqrt(var + eps) * gamma[c] + beta[c]
    return y


def batchnorm_running_stats(x: np.ndarray, running_mean: np.ndarray, running_var: np.ndarray,
                            momentum: float) -> tuple[np.ndarray, np.ndarray]:
    """The running statistics after one training batch:
    ``x_new = (1 - momentum) * x_hat + momentum * x_t``, with the batch's mean and its
    *unbiased* variance (``sum (x - E[x])^2 / (M - 1)``) as ``x_t``.

    Args:
        x: ``(N, C, ...)``; running_mean, running_var: ``(C,)``, before the batch.

    Returns:
        ``(running_mean, running_var)`` after it, ``(C,)`` each.
    """
    new_mean, new_var = np.zeros(x.shape[1]), np.zeros(x.shape[1])
    for c in range(x.shape[1]):
        values = channel_values(x, c)
        mean = np.sum(values) / values.size
        unbiased = np.sum((values - mean) ** 2) / (values.size - 1)
        new_mean[c] = (1 - momentum) * running_mean[c] + momentum * mean
        new_var[c] = (1 - momentum) * running_var[c] + momentum * unbiased
    return new_mean, new_var


def batchnorm_input_grad(x: np.ndarray, gamma: np.ndarray, grad_y: np.ndarray,
                         eps: float) -> np.ndarray:
    """Training mode: ``dE/dx = (g - (1/M) sum g - x_hat (1/M) sum g x_hat) /
    sqrt(Var[x] + eps)``, ``g = dE/dy * gamma``, per channel: the mean and the variance
    depend on every ``x`` of the channel, and their terms carry that.

    Args:
        x: ``(N, C, ...)``, the layer's input; gamma: ``(C,)``; grad_y: ``x``'s shape.

    Returns:
        ``(N, C, ...)``.
    """
    grad = np.zeros(x.shape)
    for c in range(x.shape[1]):
        values = channel_values(x, c)
        M = values.size
        mean = np.sum(values) / M
        std = np.sqrt(np.sum((values - mean) ** 2) / M + eps)
        x_hat = (x[:, c] - mean) / std
        g = grad_y[:, c] * gamma[c]
        grad[:, c] = (g - np.sum(g) / M - x_hat * np.sum(g * x_hat) / M) / std
    return grad


def batchnorm_eval_forward(x: np.ndarray, running_mean: np.ndarray, running_var: np.ndarray,
                           gamma: np.ndarray, beta: np.ndarray, eps: float) -> np.ndarray:
    """Eval mode: ``y = (x - running_mean) / sqrt(running_var + eps) * gamma + beta``, per
    channel. ``x: (N, C, ...)``, the others ``(C,)`` -> ``y``, ``x``'s shape."""
    y = np.zeros(x.shape)
    for c in range(x.shape[1]):
        y[:, c] = (x[:, c] - running_mean[c]) / np.sqrt(running_var[c] + eps) * gamma[c] + beta[c]
    return y


def batchnorm_eval_input_grad(running_var: np.ndarray, gamma: np.ndarray, grad_y: np.ndarray,
                              eps: float) -> np.ndarray:
    """Eval mode: ``dE/dx = dE/dy * gamma / sqrt(running_var + eps)``, per channel (an
    affine map). ``grad_y: (N, C, ...)``, the others ``(C,)`` -> ``(N, C, ...)``."""
    grad = np.zeros(grad_y.shape)
    for c in range(grad_y.shape[1]):
        grad[:, c] = grad_y[:, c] * gamma[c] / np.sqrt(running_var[c] + eps)
    return grad


def batchnorm_weight_grad(x_hat: np.ndarray, grad_y: np.ndarray) -> np.ndarray:
    """``dE/dgamma = sum dE/dy x_hat`` over each channel's values, in either mode (``x_hat``
    normalised with the statistics the forward pass used). ``(N, C, ...)`` -> ``(C,)``."""
    return np.array([np.sum(channel_values(grad_y * x_hat, c)) for c in range(x_hat.shape[1])])


def batchnorm_bias_grad(grad_y: np.ndarray) -> np.ndarray:
    """``dE/dbeta = sum dE/dy`` over each channel's values: ``(N, C, ...)`` -> ``(C,)``."""
    return np.array([np.sum(channel_values(grad_y, c)) for c in range(grad_y.shape[1])])


# ------------------------------------------------------------------------------ layer norm
# torch.nn.LayerNorm:  y = (x - E[x]) / sqrt(Var[x] + eps) * gamma + beta.  "The mean and
# standard-deviation are calculated over the last D dimensions, where D is the dimension of
# normalized_shape ... The variance is calculated via the biased estimator"; gamma and beta
# have the shape normalized_shape and apply element by element. Its gradients are batch
# norm's with the roles of the axes swapped: the M values of one example (its trailing
# axes) share a mean and variance, and gamma's and beta's sums run over the examples:
#   dE/dx     = (g - (1/M) sum g - x_hat (1/M) sum g x_hat) / sqrt(Var[x] + eps)
#   dE/dgamma = sum_examples dE/dy x_hat,   dE/dbeta = sum_examples dE/dy


def rows(a: np.ndarray, normalized_shape: tuple[int, ...]) -> np.ndarray:
    """``a: (N, ..., *normalized_shape)`` as ``(R, M)``: one row per example (per leading
    index), the ``M`` values normalised together in it."""
    return a.reshape(-1, int(np.prod(normalized_shape)))


def layernorm_forward(x: np.ndarray, gamma: np.ndarray, beta: np.ndarray,
                      eps: float) -> np.ndarray:
    """``y = (x - E[x]) / sqrt(Var[x] + eps) * gamma + beta``, ``E`` and the biased ``Var``
    over each example's trailing axes (those of ``gamma``).

    Args:
        x: ``(N, ..., *normalized_shape)``; gamma, beta: ``normalized_shape``.

    Returns:
        ``y``, ``x``'s shape.
    """
    xs = rows(x, gamma.shape)
    y = np.zeros(xs.shape)
    for r in range(xs.shape[0]):
        mean = np.sum(xs[r]) / xs.shape[1]
        var = np.sum((xs[r] - mean) ** 2) / xs.shape[1]
        y[r] = (xs[r] - mean) / np.sqrt(var + eps) * gamma.ravel() + beta.ravel()
    return y.reshape(x.shape)


def layernorm_x_hat(x: np.ndarray, normalized_shape: tuple[int, ...], eps: float) -> np.ndarray:
    """``x_hat = (x - E[x]) / sqrt(Var[x] + eps)`` per example: ``layernorm_forward``
    with ``gamma = 1``, ``beta = 0``. ``x`` -> ``x_hat``, ``x``'s shape."""
    return layernorm_forward(x, np.ones(normalized_shape), np.zeros(normalized_shape), eps)


def layernorm_input_grad(x: np.ndarray, gamma: np.ndarray, grad_y: np.ndarray,
                         eps: float) -> np.ndarray:
    """``dE/dx = (g - (1/M) sum g - x_hat (1/M) sum g x_hat) / sqrt(Var[x] + eps)``, ``g =
    dE/dy * gamma``, per example.

    Args:
        x: ``(N, ..., *normalized_shape)``, the layer's input; gamma: ``normalized_shape``;
            grad_y: ``x``'s shape.

    Returns:
        ``x``'s shape.
    """
    xs, gs = rows(x, gamma.shape), rows(grad_y, gamma.shape)
    grad = np.zeros(xs.shape)
    M = xs.shape[1]
    for r in range(xs.shape[0]):
        mean = np.sum(xs[r]) / M
        std = np.sqrt(np.sum((xs[r] - mean) ** 2) / M + eps)
        x_hat = (xs[r] - mean) / std
        g = gs[r] * gamma.ravel()
        grad[r] = (g - np.sum(g) / M - x_hat * np.sum(g * x_hat) / M) / std
    return grad.reshape(x.shape)


def layernorm_weight_grad(x_hat: np.ndarray, grad_y: np.ndarray,
                          normalized_shape: tuple[int, ...]) -> np.ndarray:
    """``dE/dgamma = sum_examples dE/dy x_hat``: ``(N, ..., *normalized_shape)`` ->
    ``normalized_shape``."""
    grad = np.zeros(int(np.prod(normalized_shape)))
    for g, h in zip(rows(grad_y, normalized_shape), rows(x_hat, normalized_shape), strict=True):
        grad += g * h
    return grad.reshape(normalized_shape)


def layernorm_bias_grad(grad_y: np.ndarray, normalized_shape: tuple[int, ...]) -> np.ndarray:
    """``dE/dbeta = sum_examples dE/dy``: ``(N, ..., *normalized_shape)`` ->
    ``normalized_shape``."""
    return rows(grad_y, normalized_shape).sum(axis=0).reshape(normalized_shape)


# ------------------------------------------------------------------------- average pooling
# torch.nn.AvgPool2d:  out(N_i, C_j, h, w) = 1/(kH * kW) sum_{m=0}^{kH-1} sum_{n=0}^{kW-1}
#     input(N_i, C_j, stride[0] * h + m, stride[1] * w + n)
# "If padding is non-zero, then the input is implicitly zero-padded on both sides";
# count_include_pad=True (the default) counts those zeros in the average, so the divisor is
# kH * kW for every window. Its gradient: dE/dinput = sum over the windows holding an element
# of dE/dout / (kH * kW).


def avgpool_forward(x: np.ndarray, kernel_size: tuple[int, int], stride: tuple[int, int],
                    padding: tuple[int, int]) -> np.ndarray:
    """Each output is the mean of its ``kh x kw`` window of the zero-padded input (the
    padding's zeros counted).

    Args:
        x: ``(N, C, H, W)``; kernel_size, stride, padding: ``(rows, columns)`` pairs.

    Returns:
        ``(N, C, (H + 2 p_h - kh) // s_h + 1, (W + 2 p_w - kw) // s_w + 1)``.
    """
    (kh, kw), (sh, sw), (ph, pw) = kernel_size, stride, padding
    xp = np.pad(x, ((0, 0), (0, 0), (ph, ph), (pw, pw)))
    N, C, Hp, Wp = xp.shape
    y = np.zeros((N, C, (Hp - kh) // sh + 1, (Wp - kw) // sw + 1))
    for n, c, h, w in np.ndindex(y.shape):
        y[n, c, h, w] = np.sum(xp[n, c, h * sh : h * sh + kh, w * sw : w * sw + kw]) / (kh * kw)
    return y


def avgpool_backward(grad_y: np.ndarray, x_shape: tuple[int, ...], kernel_size: tuple[int, int],
                     stride: tuple[int, int], padding: tuple[int, int]) -> np.ndarray:
    """Each output's gradient, divided by ``kh * kw``, goes to every element of its window;
    overlapping windows add up, and the padding's share is dropped.

    Args:
        grad_y: ``(N, C, H_out, W_out)``; x_shape: ``(N, C, H, W)``; the rest as
            ``avgpool_forward``.

    Returns:
        ``(N, C, H, W)``.
    """
    (kh, kw), (sh, sw), (ph, pw) = kernel_size, stride, padding
    N, C, H, W = x_shape
    grad = np.zeros((N, C, H + 2 * ph, W + 2 * pw))
    for n, c, h, w in np.ndindex(grad_y.shape):
        grad[n, c, h * sh : h * sh + kh, w * sw : w * sw + kw] += grad_y[n, c, h, w] / (kh * kw)
    return grad[:, :, ph : ph + H, pw : pw + W]


# ------------------------------------------------------------------------- more activations
# torch.nn.Sigmoid:    Sigmoid(x) = sigma(x) = 1 / (1 + exp(-x));   d sigma/dx = sigma (1 - sigma)
# torch.nn.Tanh:       Tanh(x) = tanh(x) = (exp(x) - exp(-x)) / (exp(x) + exp(-x));
#                      d tanh/dx = 1 - tanh^2
# torch.nn.LeakyReLU:  LeakyReLU(x) = max(0, x) + negative_slope * min(0, x);
#                      dy/dx = 1 for x > 0, negative_slope for x <= 0 (PyTorch's at 0)
# Both derivatives of sigmoid and tanh are written with the output y: the backward pass
# needs only what the forward pass gave.


def sigmoid_forward(x: np.ndarray) -> np.ndarray:
    """``y = 1 / (1 + exp(-x))``, element by element; for ``x < 0`` as ``exp(x) / (1 +
    exp(x))``, the same fraction, so that no ``exp`` of a large argument overflows. Any
    shape -> the same shape."""
    y = np.zeros(x.shape)
    for i in np.ndindex(x.shape):
        if x[i] >= 0:
            y[i] = 1.0 / (1.0 + np.exp(-x[i]))
        else:
            y[i] = np.exp(x[i]) / (1.0 + np.exp(x[i]))   # also a NaN's branch: NaN
    return y


def sigmoid_backward(y: np.ndarray, grad_y: np.ndarray) -> np.ndarray:
    """``dE/dx = dE/dy * y (1 - y)``, from the output ``y``; one shape for all."""
    return grad_y * y * (1.0 - y)


def tanh_forward(x: np.ndarray) -> np.ndarray:
    """``y = tanh(x)``, element by element (``np.tanh``, which saturates at +-1 without
    overflowing, as the quoted fraction of ``exp`` would). Any shape -> the same shape."""
    return np.tanh(x)


def tanh_backward(y: np.ndarray, grad_y: np.ndarray) -> np.ndarray:
    """``dE/dx = dE/dy * (1 - y^2)``, from the output ``y``; one shape for all."""
    return grad_y * (1.0 - y * y)


def leaky_relu_forward(x: np.ndarray, negative_slope: float) -> np.ndarray:
    """``y = max(0, x) + negative_slope * min(0, x)``, element by element (a NaN stays
    NaN). Any shape -> the same shape."""
    y = np.zeros(x.shape)
    for i in np.ndindex(x.shape):
        y[i] = x[i] if x[i] > 0 else negative_slope * x[i]
    return y


def leaky_relu_backward(x: np.ndarray, grad_y: np.ndarray, negative_slope: float) -> np.ndarray:
    """``dE/dx = dE/dy`` where ``x > 0``, ``negative_slope * dE/dy`` elsewhere (at 0 and at
    a NaN too, as PyTorch), from the input ``x``; one shape for all."""
    return np.where(x > 0, grad_y, negative_slope * grad_y)
