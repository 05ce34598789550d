"""The convolution, eqs. (1)-(4): its twin, its battery and its conditions."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
import torch
from torch import nn

from reference.guard import unpack
from reference.kinds.kind import (
    BATCH,
    NON_CONTIGUOUS,
    Configuration,
    Draw,
    FunctionStyle,
    Kind,
    negate,
    setting,
    square_weight,
)
from reference.twin import UntiedBiasConv2d, layer_setting
from scratchnet import Conv2D


def configuration(name: str, n: int, c_in: int, c_out: int, k: int, stride: int,
                  padding: int, h: int, w: int, bias: str | None,
                  contiguous: bool = True) -> Configuration:
    """A convolution of ``c_in -> c_out`` channels, a ``k x k`` kernel, ``stride``,
    ``padding`` and a ``"tied"``, ``"untied"`` or no (None) bias, on ``(n, c_in, h, w)``.

    Its options hold only what differs from scratchnet's defaults (stride 1, padding 0,
    tied bias), so a class without those arguments is checked wherever it can be."""
    options: dict[str, Any] = {}
    if stride != 1:
        options["stride"] = stride
    if padding != 0:
        options["padding"] = padding
    if bias != "tied":                               # scratchnet's (and PyTorch's) default
        options["bias"] = bias
    if bias == "untied":                             # its size depends on the input's
        options["input_shape"] = (c_in, h, w)
    settings = {"in_channels": c_in, "out_channels": c_out, "kernel": k, "stride": stride,
                "padding": padding, "bias": bias}
    return Configuration(name, (c_in, c_out, k), options, (n, c_in, h, w),
                         contiguous=contiguous, settings=settings)


# Every configuration not about the bias mode has PyTorch's tied bias, so that a class with
# a tied bias only (as most real code has) is checked in all of them.
NAMED = (
    configuration("the plainest", 1, 2, 3, 3, 1, 0, 6, 6, "tied"),
    configuration("batch > 1", 4, 2, 3, 3, 1, 0, 6, 6, "tied"),
    configuration("stride > 1", 2, 2, 3, 3, 2, 0, 8, 6, "tied"),       # a row, a column over
    configuration("padding > 0", 2, 2, 3, 3, 1, 1, 6, 5, "tied"),
    configuration("stride and padding", 2, 2, 3, 3, 2, 1, 7, 7, "tied"),   # 9 - 3: even
    configuration("stride and padding, rows over", 2, 2, 2, 3, 3, 1, 9, 10, "tied"),  # 11-3: 2
    configuration("higher than wide", 2, 2, 3, 3, 1, 0, 8, 5, "tied"),
    configuration("wider than high", 2, 2, 3, 3, 1, 0, 5, 8, "tied"),
    configuration("the plain first layer", 2, 1, 4, 3, 1, 0, 8, 8, None),
    configuration("the plain first layer, not square", 3, 1, 2, 3, 1, 0, 7, 10, None),
    configuration("untied bias", 1, 2, 3, 3, 1, 0, 6, 6, "untied"),
    configuration("untied bias, batch > 1", 3, 1, 2, 3, 1, 0, 7, 6, "untied"),
    configuration("even kernel", 2, 3, 2, 2, 1, 0, 5, 5, "tied"),
    configuration("as many channels in as out", 2, 3, 3, 3, 1, 0, 5, 7, "tied"),
    configuration("1x1 kernel", 2, 3, 2, 1, 1, 0, 4, 5, "tied"),
    configuration("kernel as large as the input", 2, 2, 3, 5, 1, 0, 5, 5, "tied"),
    configuration("non-contiguous input", 3, 2, 3, 3, 1, 0, 6, 6, "tied", contiguous=False),
    configuration("stride, padding and untied bias", 3, 3, 2, 4, 3, 2, 9, 6, "untied"),
)


def random_configuration(name: str, r: Draw) -> Configuration:
    k = r(1, 4)
    padding = r(0, min(2, k - 1))                  # PyTorch needs padding < kernel
    low = max(1, k - 2 * padding)
    bias = ["tied", "untied", None][r(0, 2)]
    return configuration(name, r(1, 4), r(1, 3), r(1, 3), k, r(1, 3), padding,
                         r(low, low + 6), r(low, low + 6), bias, contiguous=bool(r(0, 3)))


def output_sides(c: Configuration) -> tuple[int, int]:
    """The output's height and width: ``(H + 2p - k) // stride + 1`` and likewise."""
    k, s, p = c.settings["kernel"], c.settings["stride"], c.settings["padding"]
    return (c.shape[2] + 2 * p - k) // s + 1, (c.shape[3] + 2 * p - k) // s + 1


def non_square(c: Configuration, x: np.ndarray) -> bool:
    """Rows and columns that give different output sizes: where code that takes one side
    for both goes wrong (an input of 8x7 with a stride of 2 gives 3x3, a square)."""
    height, width = output_sides(c)
    return height != width


def rows_over(c: Configuration, x: np.ndarray) -> bool:
    """Rows or columns of the padded input that no window reaches (the stride does not
    divide the padded size less the kernel's): PyTorch drops them."""
    k, s, p = c.settings["kernel"], c.settings["stride"], c.settings["padding"]
    return (c.shape[2] + 2 * p - k) % s != 0 or (c.shape[3] + 2 * p - k) % s != 0


CONDITIONS = (
    *BATCH,
    ("a non-square input", non_square), ("a square input", negate(non_square)),
    ("sizes the stride does not divide (rows or columns left over)", rows_over),
    ("no rows or columns left over", negate(rows_over)),
    ("stride > 1", setting("stride", lambda s: s > 1)),
    ("stride 1", setting("stride", lambda s: s == 1)),
    ("padding > 0", setting("padding", lambda p: p > 0)),
    ("no padding", setting("padding", lambda p: p == 0)),
    ("an untied bias", setting("bias", lambda b: b == "untied")),
    ("a tied bias", setting("bias", lambda b: b == "tied")),
    ("no bias", setting("bias", lambda b: b is None)),
    ("a bias", setting("bias", lambda b: b is not None)),
    ("as many channels in as out", square_weight),
    ("more or fewer channels out than in", negate(square_weight)),
    ("a kernel larger than 1x1", setting("kernel", lambda k: k > 1)),
    NON_CONTIGUOUS,
)


def settings(layer: Any) -> dict[str, Any]:
    """What a convolution computes, read from any protocol layer of kind ``"conv2d"``: its
    ``weight: (C_out, C_in, kh, kw)`` gives the channels and kernel, the bias's shape the
    bias mode (``(C_out,)``: ``"tied"``, ``(C_out, H_out, W_out)``: ``"untied"``, none:
    None), and the attributes ``stride`` and ``padding`` (default 1 and 0) the rest.
    Keys as ``Conv2D``'s arguments."""
    out_channels, in_channels, kh, kw = layer.params["weight"].shape
    bias = layer.params.get("bias")
    return {"in_channels": in_channels, "out_channels": out_channels, "kernel_size": (kh, kw),
            "stride": layer_setting(layer, "stride", 1, "conv2d"),
            "padding": layer_setting(layer, "padding", 0, "conv2d"),
            "bias": None if bias is None else "tied" if bias.ndim == 1 else "untied"}


def twin(layer: Any, dtype: torch.dtype) -> nn.Module:
    s = settings(layer)
    if s["bias"] == "untied":
        return UntiedBiasConv2d(layer.params["weight"].shape, layer.params["bias"].shape,
                                s["stride"], s["padding"], dtype)
    return nn.Conv2d(s["in_channels"], s["out_channels"], s["kernel_size"], s["stride"],
                     s["padding"], bias=s["bias"] == "tied", dtype=dtype)


def rebuild(layer: Any, input_shape: tuple[int, ...] | None) -> tuple[tuple, dict[str, Any]]:
    """``Conv2D``'s arguments for ``layer`` on inputs of ``input_shape`` (None: the
    ``input_shape`` the layer keeps, as scratchnet's does for an untied bias)."""
    s = settings(layer)
    dtype = layer.params["weight"].dtype
    shape = (getattr(layer, "input_shape", None) if input_shape is None
             else tuple(input_shape[1:]))
    return ((s["in_channels"], s["out_channels"], s["kernel_size"], s["stride"], s["padding"]),
            {"bias": s["bias"], "input_shape": shape, "dtype": dtype})


def cs231n_layer(forward: Callable, backward: Callable, names: tuple[str, str]) -> type:
    class FunctionConv2D:
        """``forward(x, w, b, conv_param) -> (out, cache)``, ``backward(dout, cache) ->
        (dx, dw, db)``; ``w: (F, C, HH, WW)`` and ``b: (F,)`` as PyTorch's."""

        def __init__(self, in_channels: int, out_channels: int, kernel_size: int,
                     stride: int = 1, padding: int = 0) -> None:
            self.params = {"weight": np.zeros((out_channels, in_channels, kernel_size,
                                               kernel_size)),
                           "bias": np.zeros(out_channels)}
            self.grads: dict[str, Any] = {}
            self.conv_param = {"stride": stride, "pad": padding}

        def forward(self, x: np.ndarray) -> Any:
            out, self.cache = unpack(forward(x, self.params["weight"], self.params["bias"],
                                             dict(self.conv_param)), ("out", "cache"), names[0])
            return out

        def backward(self, dout: np.ndarray) -> Any:
            dx, dw, db = unpack(backward(dout, self.cache), ("dx", "dw", "db"), names[1])
            self.grads = {"weight": dw, "bias": db}
            return dx

    return FunctionConv2D


FUNCTIONS = FunctionStyle(
    (("conv_forward_naive", "conv_backward_naive"), ("conv_forward_fast", "conv_backward_fast")),
    cs231n_layer, ("conv_param {'stride', 'pad'}", "a tied bias b (F,) only"))

KIND = Kind("conv2d", Conv2D, NAMED, random_configuration, CONDITIONS, twin, rebuild,
            variant_options=lambda config: {"input_shape": config.shape[1:]}, functions=FUNCTIONS)
