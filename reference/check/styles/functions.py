"""CS231n's style: a layer as two functions, ``forward(x, ...) -> (out, cache)`` and
``backward(dout, cache) -> (dx, dw, db)``, found in a file by their names.

Each kind's pair is wrapped in a small class following the layer protocol, which calls
the functions in their own conventions (``conv_param``, ``pool_param``, an affine
weight ``w: (D, M)``) and says where those differ from PyTorch's.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np

from reference.check.guard import ProtocolError, describe_value


def unpack(result: Any, names: tuple[str, ...], function: str) -> tuple:
    """``result`` as the tuple ``names`` says it is, or a ProtocolError naming what
    ``function`` returned instead."""
    form = f"({', '.join(names)})"
    if not isinstance(result, tuple | list) or len(result) != len(names):
        raise ProtocolError(f"{function} returned {describe_value(result)}: it must return "
                            f"{form}")
    return tuple(result)


@dataclass(frozen=True)
class FunctionStyle:
    """A kind's functions in CS231n's conventions.

    Attributes:
        pairs: the ``(forward, backward)`` names it is found by (``backward`` None when
            one function does both, as ``softmax_loss``).
        adapter: ``adapter(forward, backward, names) -> class``: the protocol class that
            calls the pair.
        conventions: where the style differs from PyTorch's, as the check assumes it.
    """

    pairs: tuple[tuple[str, str | None], ...]
    adapter: Callable[[Callable, Callable | None, tuple[str, str | None]], type]
    conventions: tuple[str, ...] = ()


def conv_adapter(forward: Callable, backward: Callable, names: tuple[str, str]) -> type:
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


def pool_adapter(forward: Callable, backward: Callable, names: tuple[str, str]) -> type:
    class FunctionMaxPool2D:
        """``forward(x, pool_param) -> (out, cache)``, ``backward(dout, cache) -> dx``."""

        def __init__(self, kernel_size: int, stride: int | None = None) -> None:
            self.params: dict[str, Any] = {}
            self.grads: dict[str, Any] = {}
            self.pool_param = {"pool_height": kernel_size, "pool_width": kernel_size,
                               "stride": kernel_size if stride is None else stride}

        def forward(self, x: np.ndarray) -> Any:
            out, self.cache = unpack(forward(x, dict(self.pool_param)), ("out", "cache"),
                                     names[0])
            return out

        def backward(self, dout: np.ndarray) -> Any:
            return backward(dout, self.cache)

    return FunctionMaxPool2D


def affine_adapter(forward: Callable, backward: Callable, names: tuple[str, str]) -> type:
    class FunctionDense:
        """``forward(x, w, b) -> (out, cache)`` with ``w: (D, M)``, PyTorch's weight
        transposed; ``backward(dout, cache) -> (dx, dw, db)``."""

        def __init__(self, in_features: int, out_features: int) -> None:
            self.params = {"weight": np.zeros((out_features, in_features)),
                           "bias": np.zeros(out_features)}
            self.grads: dict[str, Any] = {}

        def forward(self, x: np.ndarray) -> Any:
            out, self.cache = unpack(forward(x, self.params["weight"].T.copy(),
                                             self.params["bias"]), ("out", "cache"), names[0])
            return out

        def backward(self, dout: np.ndarray) -> Any:
            dx, dw, db = unpack(backward(dout, self.cache), ("dx", "dw", "db"), names[1])
            self.grads = {"weight": dw.T if isinstance(dw, np.ndarray) else dw, "bias": db}
            return dx

    return FunctionDense


def relu_adapter(forward: Callable, backward: Callable, names: tuple[str, str]) -> type:
    class FunctionReLU:
        """``forward(x) -> (out, cache)``, ``backward(dout, cache) -> dx``."""

        def __init__(self) -> None:
            self.params: dict[str, Any] = {}
            self.grads: dict[str, Any] = {}

        def forward(self, x: np.ndarray) -> Any:
            out, self.cache = unpack(forward(x), ("out", "cache"), names[0])
            return out

        def backward(self, dout: np.ndarray) -> Any:
            return backward(dout, self.cache)

    return FunctionReLU


def loss_adapter(forward: Callable, backward: None, names: tuple[str, None]) -> type:
    class FunctionSoftmaxLoss:
        """``softmax_loss(x, y) -> (loss, dx)``: the loss and its gradient in one call."""

        def forward(self, logits: np.ndarray, labels: np.ndarray) -> Any:
            loss, self.dx = unpack(forward(logits, labels), ("loss", "dx"), names[0])
            return loss

        def backward(self) -> Any:
            return self.dx

    return FunctionSoftmaxLoss


#: Each kind's functions in CS231n's conventions, by kind.
CS231N: dict[str, FunctionStyle] = {
    "conv2d": FunctionStyle(
        (("conv_forward_naive", "conv_backward_naive"),
         ("conv_forward_fast", "conv_backward_fast")),
        conv_adapter, ("conv_param {'stride', 'pad'}", "a tied bias b (F,) only")),
    "maxpool2d": FunctionStyle(
        (("max_pool_forward_naive", "max_pool_backward_naive"),
         ("max_pool_forward_fast", "max_pool_backward_fast")),
        pool_adapter, ("pool_param {'pool_height', 'pool_width', 'stride'}",)),
    "dense": FunctionStyle(
        (("affine_forward", "affine_backward"),),
        affine_adapter, ("w is (D, M), PyTorch's weight transposed: it is given weight.T "
                         "and its dw is compared transposed",)),
    "relu": FunctionStyle((("relu_forward", "relu_backward"),), relu_adapter),
    "softmax-ce": FunctionStyle(
        (("softmax_loss", None),), loss_adapter,
        ("softmax_loss(x, y) returns (loss, dx) in one call",)),
}
