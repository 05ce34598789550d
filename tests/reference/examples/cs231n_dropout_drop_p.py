"""CS231n's dropout functions with ``p`` the DROP probability (as PyTorch's, and as some
years' handouts read it): ``scratchnet check`` infers which from the output."""

import numpy as np


def dropout_forward(x, dropout_param):
    p, mode = dropout_param["p"], dropout_param["mode"]
    if "seed" in dropout_param:
        np.random.seed(dropout_param["seed"])
    mask = None
    if mode == "train":
        mask = (np.random.rand(*x.shape) >= p) / (1 - p)   # drop with probability p
        out = x * mask
    else:
        out = x
    return out, (mode, mask)


def dropout_backward(dout, cache):
    mode, mask = cache
    return dout * mask if mode == "train" else dout
