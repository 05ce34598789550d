"""Right batch norm and layer norm in CS231n's style, written for the tests: the pattern of
the assignment's ``layers.py`` (``bn_param`` with ``mode``, ``eps``, ``momentum`` as the
old value's weight and the running statistics kept in it, the biased variance in the
running update; a backward through the computational graph and a simplified ``_alt`` one;
spatial batch norm as batch norm of ``(N * H * W, C)`` rows; layer norm over each row).
``scratchnet check`` finds the pairs by their names and checks them in those conventions.
"""

import numpy as np


def batchnorm_forward(x, gamma, beta, bn_param):
    mode = bn_param["mode"]
    eps = bn_param.get("eps", 1e-5)
    momentum = bn_param.get("momentum", 0.9)
    D = x.shape[1]
    running_mean = bn_param.get("running_mean", np.zeros(D, dtype=x.dtype))
    running_var = bn_param.get("running_var", np.zeros(D, dtype=x.dtype))
    cache = None
    if mode == "train":
        mu = x.mean(axis=0)
        xc = x - mu
        var = (xc**2).mean(axis=0)
        std = np.sqrt(var + eps)
        x_hat = xc / std
        out = gamma * x_hat + beta
        running_mean = momentum * running_mean + (1 - momentum) * mu
        running_var = momentum * running_var + (1 - momentum) * var
        cache = (x_hat, xc, std, gamma)
    elif mode == "test":
        out = gamma * (x - running_mean) / np.sqrt(running_var + eps) + beta
    else:
        raise ValueError(f'Invalid forward batchnorm mode "{mode}"')
    bn_param["running_mean"] = running_mean
    bn_param["running_var"] = running_var
    return out, cache


def batchnorm_backward(dout, cache):
    """Step by step back through the graph: beta, gamma, x_hat, std, var, mean."""
    x_hat, xc, std, gamma = cache
    N = dout.shape[0]
    dbeta = dout.sum(axis=0)
    dgamma = (dout * x_hat).sum(axis=0)
    dx_hat = dout * gamma
    dxc = dx_hat / std
    dstd = -(dx_hat * xc).sum(axis=0) / std**2
    dvar = 0.5 * dstd / std
    dxc += 2 * xc * dvar / N
    dmu = -dxc.sum(axis=0)
    dx = dxc + dmu / N
    return dx, dgamma, dbeta


def batchnorm_backward_alt(dout, cache):
    """The simplified expression, one line for dx."""
    x_hat, _, std, gamma = cache
    N = dout.shape[0]
    dbeta = dout.sum(axis=0)
    dgamma = (dout * x_hat).sum(axis=0)
    dx = gamma / (N * std) * (N * dout - dbeta - x_hat * dgamma)
    return dx, dgamma, dbeta


def spatial_batchnorm_forward(x, gamma, beta, bn_param):
    N, C, H, W = x.shape
    rows = x.transpose(0, 2, 3, 1).reshape(-1, C)
    out, cache = batchnorm_forward(rows, gamma, beta, bn_param)
    return out.reshape(N, H, W, C).transpose(0, 3, 1, 2), cache


def spatial_batchnorm_backward(dout, cache):
    N, C, H, W = dout.shape
    rows = dout.transpose(0, 2, 3, 1).reshape(-1, C)
    dx, dgamma, dbeta = batchnorm_backward_alt(rows, cache)
    return dx.reshape(N, H, W, C).transpose(0, 3, 1, 2), dgamma, dbeta


def layernorm_forward(x, gamma, beta, ln_param):
    eps = ln_param.get("eps", 1e-5)
    mu = x.mean(axis=1, keepdims=True)
    xc = x - mu
    std = np.sqrt((xc**2).mean(axis=1, keepdims=True) + eps)
    x_hat = xc / std
    return gamma * x_hat + beta, (x_hat, std, gamma)


def layernorm_backward(dout, cache):
    x_hat, std, gamma = cache
    D = dout.shape[1]
    dgamma = (dout * x_hat).sum(axis=0)
    dbeta = dout.sum(axis=0)
    g = dout * gamma
    dx = (D * g - g.sum(axis=1, keepdims=True)
          - x_hat * (g * x_hat).sum(axis=1, keepdims=True)) / (D * std)
    return dx, dgamma, dbeta
