"""Average pooling (``torch.nn.AvgPool2d``, no seed equation): its twin, its battery and
its conditions. The twin counts the padding's zeros in every window's mean
(``count_include_pad=True``, PyTorch's default and scratchnet's ``AvgPool2D``)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
import torch
from torch import nn

from reference.guard import NotSupportedError
from reference.kinds import maxpool2d
from reference.kinds.kind import (
    NON_CONTIGUOUS,
    Configuration,
    Draw,
    FunctionStyle,
    Kind,
    batch_above_one,
    negate,
)
from reference.twin import layer_setting
from scratchnet import AvgPool2D


def configuration(name: str, k: int, stride: int | None, padding: int,
                  shape: tuple[int, int, int, int], contiguous: bool = True) -> Configuration:
    """``k x k`` windows ``stride`` apart (None: ``k``, the default) with ``padding`` zeros
    on every side, on an input of ``shape`` (normal values)."""
    options: dict[str, Any] = {} if stride is None else {"stride": stride}
    if padding:
        options["padding"] = padding
    settings = {"kernel": k, "stride": k if stride is None else stride, "padding": padding}
    return Configuration(name, (k,), options, shape, "normal", contiguous, settings)


NAMED = (
    configuration("the plainest", 2, None, 0, (1, 2, 4, 4)),
    configuration("padding", 3, 1, 1, (1, 2, 5, 5)),
    configuration("padding, stride 2, odd size", 3, 2, 1, (2, 2, 7, 6)),
    configuration("padding, 2x2 windows", 2, 2, 1, (1, 3, 5, 5)),
    configuration("overlapping windows", 3, 1, 0, (1, 2, 5, 5)),
    configuration("overlapping windows, stride 2", 3, 2, 0, (2, 1, 7, 9)),
    configuration("odd size", 2, None, 0, (1, 2, 7, 9)),
    configuration("stride beyond the window", 2, 3, 0, (2, 1, 11, 10)),
    configuration("batch > 1", 2, None, 0, (4, 2, 6, 6)),
    configuration("higher than wide", 2, None, 0, (2, 2, 6, 4)),
    configuration("wider than high", 2, None, 0, (2, 2, 4, 6)),
    configuration("non-contiguous input", 2, None, 0, (3, 2, 6, 6), contiguous=False),
)


def random_configuration(name: str, r: Draw) -> Configuration:
    k = r(1, 4)
    stride = r(1, 4)
    padding = r(0, k // 2)
    shape = (r(1, 4), r(1, 3), r(k, k + 8), r(k, k + 8))
    return configuration(name, k, None if stride == k else stride, padding, shape,
                         contiguous=bool(r(0, 3)))


def padded(c: Configuration, x: np.ndarray) -> bool:
    return c.settings["padding"] > 0


def overlapping(c: Configuration, x: np.ndarray) -> bool:
    return c.settings["stride"] < c.settings["kernel"]


def odd_size(c: Configuration, x: np.ndarray) -> bool:
    """Rows or columns (of the padded input) the windows do not reach."""
    k, s, p = c.settings["kernel"], c.settings["stride"], c.settings["padding"]
    return (c.shape[2] + 2 * p - k) % s != 0 or (c.shape[3] + 2 * p - k) % s != 0


def non_square(c: Configuration, x: np.ndarray) -> bool:
    """Rows and columns that give different output sizes."""
    k, s, p = c.settings["kernel"], c.settings["stride"], c.settings["padding"]
    return (c.shape[2] + 2 * p - k) // s != (c.shape[3] + 2 * p - k) // s


CONDITIONS = (
    ("padding > 0", padded), ("no padding", negate(padded)),
    ("overlapping windows", overlapping), ("windows that do not overlap", negate(overlapping)),
    ("a non-square input", non_square), ("a square input", negate(non_square)),
    ("odd size (rows or columns left over)", odd_size),
    ("no rows or columns left over", negate(odd_size)),
    ("stride beyond the window", lambda c, x: c.settings["stride"] > c.settings["kernel"]),
    ("batch > 1", batch_above_one),
    NON_CONTIGUOUS,
)


def settings(layer: Any) -> dict[str, Any]:
    """An average pooling's ``kernel_size``, ``stride`` (default: the kernel size) and
    ``padding`` (default 0), read from its attributes; ints or pairs, as ``AvgPool2D``'s
    arguments."""
    kernel_size = layer_setting(layer, "kernel_size", None, "avgpool2d")
    return {"kernel_size": kernel_size,
            "stride": getattr(layer, "stride", None) or kernel_size,
            "padding": getattr(layer, "padding", 0) or 0}


def twin(layer: Any, dtype: torch.dtype) -> nn.Module:
    s = settings(layer)
    return nn.AvgPool2d(s["kernel_size"], s["stride"], s["padding"], count_include_pad=True)


def rebuild(layer: Any, input_shape: tuple[int, ...]) -> tuple[tuple, dict[str, Any]]:
    s = settings(layer)
    return (s["kernel_size"], s["stride"], s["padding"]), {}


def cs231n_layer(forward: Callable, backward: Callable, names: tuple[str, str]) -> type:
    """Max pooling's CS231n pair (``pool_param``), for average pooling: course code has no
    padding, so a padded configuration is not its."""
    class FunctionAvgPool2D(maxpool2d.cs231n_layer(forward, backward, names)):
        def __init__(self, kernel_size: int, stride: int | None = None,
                     padding: int = 0) -> None:
            if padding:
                raise NotSupportedError("CS231n's pool_param has no padding")
            super().__init__(kernel_size, stride)

    return FunctionAvgPool2D


FUNCTIONS = FunctionStyle(
    (("avg_pool_forward_naive", "avg_pool_backward_naive"),),
    cs231n_layer, ("pool_param {'pool_height', 'pool_width', 'stride'}, no padding",))

KIND = Kind("avgpool2d", AvgPool2D, NAMED, random_configuration, CONDITIONS, twin, rebuild,
            functions=FUNCTIONS)
