"""Max-pooling, eqs. (5)-(6): its twin, its battery and its conditions."""

from __future__ import annotations

from typing import Any

import numpy as np
import torch
from torch import nn

from reference.kinds.kind import (
    NON_CONTIGUOUS,
    Configuration,
    Draw,
    Kind,
    batch_above_one,
    negate,
)
from reference.twin import layer_setting
from scratchnet import MaxPool2D


def configuration(name: str, k: int, stride: int | None, shape: tuple[int, int, int, int],
                  draw: str = "distinct", contiguous: bool = True) -> Configuration:
    """``k x k`` windows ``stride`` apart (None: ``k``, the default) on an input of
    ``shape``, drawn as ``draw`` (distinct values by default: no ties)."""
    options = {} if stride is None else {"stride": stride}
    settings = {"kernel": k, "stride": k if stride is None else stride}
    return Configuration(name, (k,), options, shape, draw, contiguous, settings)


NAMED = (
    configuration("the plainest", 2, None, (1, 2, 4, 4)),
    configuration("ties", 2, None, (1, 2, 4, 4), "ties"),
    configuration("zero background", 2, None, (2, 3, 8, 8), "zero background"),
    configuration("overlapping windows", 3, 1, (1, 2, 5, 5)),
    configuration("overlapping ties", 3, 2, (2, 3, 7, 8), "ties"),
    configuration("odd size", 2, None, (1, 2, 7, 9)),
    configuration("stride beyond the window", 2, 3, (2, 1, 11, 10)),
    configuration("batch > 1", 2, None, (4, 2, 6, 6)),
    configuration("3x3 windows", 3, None, (2, 2, 9, 9)),
    configuration("non-contiguous input", 2, None, (3, 2, 6, 6), contiguous=False),
    configuration("higher than wide", 2, None, (2, 2, 6, 4)),
    configuration("wider than high", 2, None, (2, 2, 4, 6)),
)


def random_configuration(name: str, r: Draw) -> Configuration:
    k = r(1, 4)
    stride = r(1, 4)
    shape = (r(1, 4), r(1, 3), r(k, k + 8), r(k, k + 8))
    return configuration(name, k, None if stride == k else stride, shape,
                         ["distinct", "ties"][r(0, 1)], contiguous=bool(r(0, 3)))


def odd_size(c: Configuration, x: np.ndarray) -> bool:
    """Rows or columns the windows do not reach."""
    k, stride = c.settings["kernel"], c.settings["stride"]
    return (c.shape[2] - k) % stride != 0 or (c.shape[3] - k) % stride != 0


def ties(c: Configuration, x: np.ndarray) -> bool:
    """Whether some pooling window of ``x`` holds its maximum more than once."""
    k, s = c.settings["kernel"], c.settings["stride"]
    windows = np.lib.stride_tricks.sliding_window_view(x, (k, k), axis=(2, 3))[
        :, :, ::s, ::s]
    maxima = windows.max(axis=(-2, -1), keepdims=True)
    return bool(((windows == maxima).sum(axis=(-2, -1)) > 1).any())


def non_square(c: Configuration, x: np.ndarray) -> bool:
    """Rows and columns that give different output sizes: where code that takes one side
    for both goes wrong."""
    k, s = c.settings["kernel"], c.settings["stride"]
    return (c.shape[2] - k) // s != (c.shape[3] - k) // s


def overlapping(c: Configuration, x: np.ndarray) -> bool:
    return c.settings["stride"] < c.settings["kernel"]


CONDITIONS = (
    ("ties (windows holding their maximum twice)", ties), ("no ties", negate(ties)),
    ("overlapping windows", overlapping), ("windows that do not overlap", negate(overlapping)),
    ("a non-square input", non_square), ("a square input", negate(non_square)),
    ("odd size (rows or columns left over)", odd_size),
    ("no rows or columns left over", negate(odd_size)),
    ("stride beyond the window", lambda c, x: c.settings["stride"] > c.settings["kernel"]),
    ("batch > 1", batch_above_one),
    NON_CONTIGUOUS,
)


def settings(layer: Any) -> dict[str, Any]:
    """A max-pooling's ``kernel_size`` and ``stride`` (default: the kernel size), read from
    its attributes. Keys as ``MaxPool2D``'s arguments."""
    kernel_size = layer_setting(layer, "kernel_size", None, "maxpool2d")
    return {"kernel_size": kernel_size, "stride": getattr(layer, "stride", None) or kernel_size}


def twin(layer: Any, dtype: torch.dtype) -> nn.Module:
    s = settings(layer)
    return nn.MaxPool2d(s["kernel_size"], s["stride"])


def rebuild(layer: Any, input_shape: tuple[int, ...]) -> tuple[tuple, dict[str, Any]]:
    s = settings(layer)
    return (s["kernel_size"], s["stride"]), {}


KIND = Kind("maxpool2d", MaxPool2D, NAMED, random_configuration, CONDITIONS, twin, rebuild)
