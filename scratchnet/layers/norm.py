"""Normalization layers: batch norm (``BatchNorm1D``, ``BatchNorm2D``) and ``LayerNorm``, as
PyTorch computes them (PyTorch's formulas, no seed number; ``scratchnet.naive`` quotes them).

Both normalise ``x`` over some axes and then apply a learned affine map::

    x_hat = (x - mean) / sqrt(var + eps)        mean, var (biased) over the axes
    y     = x_hat * weight + bias

and both differentiate it with the mean and variance depending on ``x``: with
``g = dE/dy * weight`` and ``M`` the number of values a mean is taken over,

    dE/dx      = (g - mean(g) - x_hat * mean(g * x_hat)) / sqrt(var + eps)
    dE/dweight = sum dE/dy * x_hat,    dE/dbias = sum dE/dy

(the means over the same axes, the sums over the others). Batch norm takes its mean and
variance over the batch (and the positions), one per channel; layer norm over each
example's trailing axes, one per example. :func:`normalize` and :func:`normalize_backward`
are those two equations, shared by both.

``x - mean`` is taken before anything is multiplied: for a large mean and a small variance
(``1e4`` and ``1e-8``) this keeps every digit the data has. (PyTorch's CPU kernels compute
``y = x * a + b`` with ``a = weight / sqrt(var + eps)``, ``b = bias - mean * a``, which
rounds ``x * a`` at ``|x * a|`` and so loses about ``eps * |mean| / sqrt(var + eps)``
there: ``tests/layers/test_norm.py`` measures both against the exact value.)
"""

from __future__ import annotations

import numpy as np

from scratchnet.layers.base import Layer, as_float_dtype


def normalize(x: np.ndarray, axes: tuple[int, ...], eps: float
              ) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """``x_hat = (x - mean) / sqrt(var + eps)``, mean and biased variance over ``axes``.

    Returns ``(x_hat, mean, var, inv_std)``, ``inv_std = 1 / sqrt(var + eps)``; ``x_hat``
    has ``x``'s shape, the others keep the reduced axes as size 1 (they broadcast against
    ``x``)."""
    mean = x.mean(axis=axes, keepdims=True)
    centred = x - mean
    var = np.mean(centred * centred, axis=axes, keepdims=True)
    inv_std = 1 / np.sqrt(var + x.dtype.type(eps))
    return centred * inv_std, mean, var, inv_std


def normalize_backward(g: np.ndarray, x_hat: np.ndarray, inv_std: np.ndarray,
                       axes: tuple[int, ...]) -> np.ndarray:
    """``dE/dx = (g - mean(g) - x_hat * mean(g * x_hat)) * inv_std``, means over ``axes``:
    the gradient through :func:`normalize` with the mean and variance depending on ``x``.

    Args:
        g: ``dE/dx_hat``, ``x``'s shape; x_hat: the normalised input; inv_std:
            ``1 / sqrt(var + eps)``, broadcasting against ``x``.
    """
    return (g - g.mean(axis=axes, keepdims=True)
            - x_hat * np.mean(g * x_hat, axis=axes, keepdims=True)) * inv_std


class _BatchNorm(Layer):
    """Batch normalization over every axis but the channels (axis 1), as
    ``torch.nn.BatchNorm1d`` / ``BatchNorm2d`` with their defaults (``affine=True``,
    ``track_running_stats=True``).

    **Training mode** (``naive.batchnorm_forward``, ``naive.batchnorm_input_grad``): each
    channel is normalised with the mean and the biased variance of its ``M`` values in the
    batch (``M = N`` for ``(N, D)``, ``N * H * W`` for ``(N, C, H, W)``), then
    ``y = x_hat * weight + bias``; the backward pass is the full one, through the mean and
    variance (see the module docstring). Each forward also updates the running statistics
    (``naive.batchnorm_running_stats``), PyTorch's way::

        running_mean = (1 - momentum) * running_mean + momentum * mean
        running_var  = (1 - momentum) * running_var  + momentum * var * M / (M - 1)

    with the *unbiased* variance there (the biased one normalises), and adds 1 to
    ``num_batches_tracked``. ``momentum=None`` makes the running statistics the plain
    average of all batches so far (momentum ``1 / num_batches_tracked``), as PyTorch. A
    batch of one value per channel has no variance: refused, as PyTorch refuses it. An
    empty batch gives an empty output and leaves the running statistics as they are (but
    counts in ``num_batches_tracked``), as PyTorch.

    **Eval mode** (``naive.batchnorm_eval_forward``, ``naive.batchnorm_eval_input_grad``):
    the running statistics take the batch's place, nothing is updated, and the layer is
    the affine map ``y = (x - running_mean) / sqrt(running_var + eps) * weight + bias``,
    whose input gradient is ``dE/dy * weight / sqrt(running_var + eps)``.

    In both, ``dE/dweight = sum dE/dy * x_hat`` and ``dE/dbias = sum dE/dy``, summed over
    the batch and positions (``naive.batchnorm_weight_grad``, ``batchnorm_bias_grad``).

    Parameters ``weight: (C,)`` (gamma, initially 1) and ``bias: (C,)`` (beta, initially
    0); ``buffers``: ``running_mean: (C,)`` (0), ``running_var: (C,)`` (1), updated in
    place, and ``num_batches_tracked``, a 0-d int64 array, PyTorch's keys all.
    """

    _shapes: tuple[str, ...] = ()     # the input layouts, e.g. "(N, C, H, W)"

    def __init__(self, num_features: int, eps: float = 1e-5, momentum: float | None = 0.1, *,
                 dtype: type | np.dtype = np.float64) -> None:
        super().__init__()
        name = type(self).__name__
        if int(num_features) != num_features or num_features < 1:
            raise ValueError(f"{name}: num_features must be an integer >= 1, got "
                             f"{num_features!r}")
        if not eps > 0:
            raise ValueError(f"{name}: eps must be > 0, got {eps!r}")
        if momentum is not None and not 0 <= momentum <= 1:
            raise ValueError(f"{name}: momentum must be in [0, 1] or None, got {momentum!r}")
        self.num_features, self.eps, self.momentum = int(num_features), float(eps), momentum
        self.dtype = as_float_dtype(dtype)
        C = self.num_features
        self.params = {"weight": np.ones(C, self.dtype), "bias": np.zeros(C, self.dtype)}
        self.grads = {k: np.zeros_like(v) for k, v in self.params.items()}
        self.buffers = {"running_mean": np.zeros(C, self.dtype),
                        "running_var": np.ones(C, self.dtype),
                        "num_batches_tracked": np.zeros((), np.int64)}
        self._cache: tuple | None = None

    def extra_repr(self) -> str:
        return f"{self.num_features}, eps={self.eps}, momentum={self.momentum}"

    def output_shape(self, input_shape: tuple[int, ...]) -> tuple[int, ...]:
        if len(input_shape) + 1 not in self._ndims() or input_shape[0] != self.num_features:
            per_example = " or ".join(s.replace("N, ", "") for s in self._shapes)
            self._fail(f"expected an input of shape {per_example} with C = "
                       f"{self.num_features}, got {tuple(input_shape)}")
        return tuple(input_shape)

    def _ndims(self) -> tuple[int, ...]:
        return tuple(s.count(",") + 1 for s in self._shapes)

    def _check(self, x: np.ndarray) -> tuple[tuple[int, ...], tuple[int, ...]]:
        """Check ``x``; return the axes statistics are taken over and the broadcast shape
        of a per-channel array."""
        expected = " or ".join(self._shapes) + f" with C = {self.num_features}"
        self._check_input(x, expected)
        if x.ndim not in self._ndims() or x.shape[1] != self.num_features:
            self._fail(f"expected input {expected}, got an array of shape {x.shape}")
        axes = (0, *range(2, x.ndim))
        return axes, (1, self.num_features) + (1,) * (x.ndim - 2)

    def forward(self, x: np.ndarray) -> np.ndarray:
        """``x: (N, C, ...)`` -> ``y`` of the same shape; training mode with the batch's
        statistics (updating the running ones), eval mode with the running ones."""
        axes, per_channel = self._check(x)
        w, b = (self.params[k].reshape(per_channel) for k in ("weight", "bias"))
        if not self.training:
            mean = self.buffers["running_mean"].reshape(per_channel)
            inv_std = 1 / np.sqrt(self.buffers["running_var"].reshape(per_channel)
                                  + x.dtype.type(self.eps))
            x_hat = (x - mean) * inv_std
        else:
            M = x.size // self.num_features
            if M == 1:
                self._fail(f"expected more than 1 value per channel when training (there is "
                           f"no variance), got an input of shape {x.shape}; PyTorch refuses "
                           "it too")
            self.buffers["num_batches_tracked"] += 1
            if M == 0:    # an empty batch: nothing to normalise, the statistics stay
                x_hat, inv_std = x.copy(), np.ones(per_channel, x.dtype)
            else:
                x_hat, mean, var, inv_std = normalize(x, axes, self.eps)
                self._update_running_stats(mean.ravel(), var.ravel(), M)
        self._cache = (x_hat, inv_std, axes, self.training)
        return self._remember_output(x_hat * w + b)

    def _update_running_stats(self, mean: np.ndarray, var: np.ndarray, M: int) -> None:
        """The running statistics' update, in place: ``mean: (C,)``, ``var: (C,)`` (biased)
        of a batch of ``M`` values per channel."""
        steps = int(self.buffers["num_batches_tracked"])
        factor = 1 / steps if self.momentum is None else self.momentum
        unbiased = var * M / (M - 1)
        for key, value in (("running_mean", mean), ("running_var", unbiased)):
            running = self.buffers[key]
            running[...] = factor * value + (1 - factor) * running

    def backward(self, grad_y: np.ndarray) -> np.ndarray:
        """``grad_y: (N, C, ...)`` -> ``grad_x`` of the same shape; fills ``grads``."""
        self._check_grad(grad_y, self._cache)
        x_hat, inv_std, axes, training = self._cache
        sum_dy_x_hat = np.sum(grad_y * x_hat, axis=axes, out=self.grads["weight"])
        sum_dy = np.sum(grad_y, axis=axes, out=self.grads["bias"])
        scale = self.params["weight"].reshape(inv_std.shape) * inv_std
        if not training or grad_y.size == 0:
            return grad_y * scale
        # normalize_backward with g = dy * weight: the weight is one number per channel,
        # so it comes out of the means, and the means of g and g * x_hat are the two sums
        # just taken, over the M values of a channel:
        #     dE/dx = weight * inv_std * (dy - sum(dy) / M - x_hat * sum(dy * x_hat) / M)
        # (the same numbers up to rounding, without three passes over the batch).
        M = grad_y.size // self.num_features
        shape = inv_std.shape
        grad_x = grad_y - sum_dy.reshape(shape) / M
        grad_x -= x_hat * (sum_dy_x_hat.reshape(shape) / M)
        grad_x *= scale
        return grad_x


class BatchNorm1D(_BatchNorm):
    """Batch norm of vectors, as ``torch.nn.BatchNorm1d``: statistics per feature over the
    batch (and over ``L`` for ``(N, C, L)``), see :class:`_BatchNorm`.

    Args:
        num_features: ``D`` (``C``).
        eps: added to the variance under the square root (default 1e-5).
        momentum: the running statistics' update weight (default 0.1; None: plain average).
        dtype: ``np.float64`` or ``np.float32``.

    Shapes: ``x: (N, D)`` or ``(N, C, L)`` -> ``y`` of the same shape; ``weight``, ``bias``,
    ``running_mean``, ``running_var``: ``(D,)``.
    """

    kind = "batchnorm1d"
    _shapes = ("(N, D)", "(N, C, L)")


class BatchNorm2D(_BatchNorm):
    """Spatial batch norm, as ``torch.nn.BatchNorm2d``: statistics per channel over the
    batch and every position, ``N * H * W`` values each, see :class:`_BatchNorm`.

    Args:
        num_features: ``C``.
        eps, momentum, dtype: as :class:`BatchNorm1D`.

    Shapes: ``x: (N, C, H, W)`` -> ``y`` of the same shape; ``weight``, ``bias``,
    ``running_mean``, ``running_var``: ``(C,)``.
    """

    kind = "batchnorm2d"
    _shapes = ("(N, C, H, W)",)


class LayerNorm(Layer):
    """Layer normalization, as ``torch.nn.LayerNorm`` (elementwise affine, its default):
    each example is normalised over its trailing axes ``normalized_shape``, with their
    mean and biased variance, then ``y = x_hat * weight + bias`` elementwise
    (``naive.layernorm_forward``). The same in training and eval mode: nothing is kept
    from one batch to the next. Backward through the mean and variance
    (``naive.layernorm_input_grad``); ``dE/dweight = sum dE/dy * x_hat`` and ``dE/dbias =
    sum dE/dy`` over the leading axes (``naive.layernorm_weight_grad``,
    ``layernorm_bias_grad``).

    Args:
        normalized_shape: the trailing shape normalised over: an int ``D`` or a tuple,
            e.g. ``(C, H, W)``.
        eps: added to the variance under the square root (default 1e-5).
        dtype: ``np.float64`` or ``np.float32``.

    Shapes: ``x: (N, ..., *normalized_shape)`` -> ``y`` of the same shape; ``weight`` and
    ``bias``: ``normalized_shape`` (initially 1 and 0).
    """

    kind = "layernorm"

    def __init__(self, normalized_shape: int | tuple[int, ...], eps: float = 1e-5, *,
                 dtype: type | np.dtype = np.float64) -> None:
        super().__init__()
        shape = (normalized_shape,) if np.isscalar(normalized_shape) else normalized_shape
        shape = tuple(shape)
        if not shape or any(int(s) != s or s < 1 for s in shape):
            raise ValueError(f"LayerNorm: normalized_shape must be an integer >= 1 or a "
                             f"non-empty tuple of them, got {normalized_shape!r}")
        if not eps > 0:
            raise ValueError(f"LayerNorm: eps must be > 0, got {eps!r}")
        self.normalized_shape = tuple(int(s) for s in shape)
        self.eps = float(eps)
        self.dtype = as_float_dtype(dtype)
        self.params = {"weight": np.ones(self.normalized_shape, self.dtype),
                       "bias": np.zeros(self.normalized_shape, self.dtype)}
        self.grads = {k: np.zeros_like(v) for k, v in self.params.items()}
        self._cache: tuple | None = None

    def extra_repr(self) -> str:
        return f"{self.normalized_shape}, eps={self.eps}"

    def output_shape(self, input_shape: tuple[int, ...]) -> tuple[int, ...]:
        k = len(self.normalized_shape)
        if tuple(input_shape[len(input_shape) - k:]) != self.normalized_shape:
            self._fail(f"expected an input ending in {self.normalized_shape}, got "
                       f"{tuple(input_shape)}")
        return tuple(input_shape)

    def forward(self, x: np.ndarray) -> np.ndarray:
        """``x: (N, ..., *normalized_shape)`` -> ``y`` of the same shape."""
        expected = f"(N, ..., {', '.join(map(str, self.normalized_shape))})"
        self._check_input(x, expected)
        k = len(self.normalized_shape)
        if x.ndim < k or x.shape[x.ndim - k:] != self.normalized_shape:
            self._fail(f"expected input {expected}, got an array of shape {x.shape}")
        axes = tuple(range(x.ndim - k, x.ndim))
        if x.size == 0:
            x_hat, inv_std = x.copy(), np.ones((), x.dtype)
        else:
            x_hat, _, _, inv_std = normalize(x, axes, self.eps)
        self._cache = (x_hat, inv_std, axes)
        return self._remember_output(x_hat * self.params["weight"] + self.params["bias"])

    def backward(self, grad_y: np.ndarray) -> np.ndarray:
        """``grad_y`` (the output's shape) -> ``grad_x``; fills ``grads``."""
        self._check_grad(grad_y, self._cache)
        x_hat, inv_std, axes = self._cache
        leading = tuple(range(grad_y.ndim - len(axes)))
        np.sum(grad_y * x_hat, axis=leading, out=self.grads["weight"])
        np.sum(grad_y, axis=leading, out=self.grads["bias"])
        g = grad_y * self.params["weight"]
        if grad_y.size == 0:
            return g
        return normalize_backward(g, x_hat, inv_std, axes)


__all__ = ["BatchNorm1D", "BatchNorm2D", "LayerNorm", "normalize", "normalize_backward"]
