"""The PyTorch twin of a network (a registry of twins by kind or class), and weight copying
both ways."""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Callable
from typing import Any

import numpy as np
import torch
from torch import nn

from scratchnet import Sequential
from scratchnet.layers.base import LayerProtocol

TORCH_DTYPE = {np.dtype(np.float32): torch.float32, np.dtype(np.float64): torch.float64}

#: ``factory(layer, dtype) -> nn.Module``: the module computing what ``layer`` computes.
TwinFactory = Callable[[Any, torch.dtype], nn.Module]

_TWIN_OF_CLASS: dict[type, TwinFactory] = {}
_TWIN_OF_KIND: dict[str, TwinFactory] = {}


def register_twin(kind_or_class: str | type, factory: TwinFactory) -> None:
    """Make ``factory(layer, dtype)`` build the PyTorch twin of the layers of a kind (their
    ``kind`` attribute, e.g. ``"conv2d"``) or of a class (and its subclasses).

    A class's factory comes first, then the kind's: scratchnet's layers and any protocol
    layer of a known kind get their twin from the kind's factory, which reads the layer's
    parameter shapes and hyperparameters (see ``conv_settings``); register a class for a
    layer that computes something else.
    """
    if isinstance(kind_or_class, str):
        _TWIN_OF_KIND[kind_or_class] = factory
    elif isinstance(kind_or_class, type):
        _TWIN_OF_CLASS[kind_or_class] = factory
    else:
        raise TypeError(f"register_twin: expected a kind or a class, got {kind_or_class!r}")


def twin_of_layer(layer: LayerProtocol, dtype: torch.dtype) -> nn.Module:
    """The torch module computing what ``layer`` computes (weights not yet copied)."""
    for cls in type(layer).__mro__:
        if cls in _TWIN_OF_CLASS:
            return _TWIN_OF_CLASS[cls](layer, dtype)
    kind = getattr(layer, "kind", None)
    if kind in _TWIN_OF_KIND:
        return _TWIN_OF_KIND[kind](layer, dtype)
    name = getattr(layer, "name", type(layer).__name__)
    raise TypeError(
        f"to_torch: no PyTorch twin for {name} ({type(layer).__name__}, kind {kind!r}): give "
        f"its class a kind, one of {sorted(_TWIN_OF_KIND)}, or register a twin with "
        f"reference.register_twin")


def twin_function(layer: LayerProtocol, dtype: torch.dtype = torch.float64):
    """``layer``'s twin as a function ``(x, params) -> y`` of torch tensors: the twin run
    with the given parameters (a dict keyed as ``layer.params``) in place of its own."""
    module = twin_of_layer(layer, dtype)
    return lambda xt, pt: torch.func.functional_call(module, pt, (xt,))


def _setting(layer: Any, name: str, default: Any, kind: str) -> Any:
    value = getattr(layer, name, default)
    if value is None:
        raise TypeError(f"to_torch: a {kind} layer needs a {name} attribute for its twin, "
                        f"{type(layer).__name__} has none")
    return value


def conv_settings(layer: Any) -> dict[str, Any]:
    """What a convolution computes, read from any protocol layer of kind ``"conv2d"``: its
    ``weight: (C_out, C_in, kh, kw)`` gives the channels and kernel, the bias's shape the
    bias mode (``(C_out,)``: ``"tied"``, ``(C_out, H_out, W_out)``: ``"untied"``, none:
    None), and the attributes ``stride`` and ``padding`` (default 1 and 0) the rest.
    Keys as ``Conv2D``'s arguments."""
    out_channels, in_channels, kh, kw = layer.params["weight"].shape
    bias = layer.params.get("bias")
    return {"in_channels": in_channels, "out_channels": out_channels, "kernel_size": (kh, kw),
            "stride": _setting(layer, "stride", 1, "conv2d"),
            "padding": _setting(layer, "padding", 0, "conv2d"),
            "bias": None if bias is None else "tied" if bias.ndim == 1 else "untied"}


def pool_settings(layer: Any) -> dict[str, Any]:
    """A max-pooling's ``kernel_size`` and ``stride`` (default: the kernel size), read from
    its attributes. Keys as ``MaxPool2D``'s arguments."""
    kernel_size = _setting(layer, "kernel_size", None, "maxpool2d")
    return {"kernel_size": kernel_size, "stride": getattr(layer, "stride", None) or kernel_size}


def dense_settings(layer: Any) -> dict[str, Any]:
    """A dense layer's sizes, from its ``weight: (out, in)``. Keys as ``Dense``'s arguments."""
    out_features, in_features = layer.params["weight"].shape
    return {"in_features": in_features, "out_features": out_features}


class UntiedBiasConv2d(nn.Module):
    """A convolution whose bias has one value per output position, the seed's ``B_i``.

    ``torch.nn.functional.conv2d`` without bias, plus a ``(C_out, H_out, W_out)`` bias
    parameter. Its ``state_dict()`` keys are ``weight`` and ``bias``, like ``nn.Conv2d``'s.
    """

    def __init__(self, weight_shape: tuple[int, ...], bias_shape: tuple[int, ...],
                 stride: int, padding: int, dtype: torch.dtype) -> None:
        super().__init__()
        self.stride, self.padding = stride, padding
        self.weight = nn.Parameter(torch.zeros(weight_shape, dtype=dtype))
        self.bias = nn.Parameter(torch.zeros(bias_shape, dtype=dtype))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = nn.functional.conv2d(x, self.weight, None, self.stride, self.padding)
        return y + self.bias


def _conv_twin(layer: Any, dtype: torch.dtype) -> nn.Module:
    s = conv_settings(layer)
    if s["bias"] == "untied":
        return UntiedBiasConv2d(layer.params["weight"].shape, layer.params["bias"].shape,
                                s["stride"], s["padding"], dtype)
    return nn.Conv2d(s["in_channels"], s["out_channels"], s["kernel_size"], s["stride"],
                     s["padding"], bias=s["bias"] == "tied", dtype=dtype)


def _pool_twin(layer: Any, dtype: torch.dtype) -> nn.Module:
    s = pool_settings(layer)
    return nn.MaxPool2d(s["kernel_size"], s["stride"])


def _dense_twin(layer: Any, dtype: torch.dtype) -> nn.Module:
    s = dense_settings(layer)
    return nn.Linear(s["in_features"], s["out_features"], dtype=dtype)


register_twin("conv2d", _conv_twin)
register_twin("maxpool2d", _pool_twin)
register_twin("dense", _dense_twin)
register_twin("relu", lambda layer, dtype: nn.ReLU())
register_twin("identity", lambda layer, dtype: nn.Identity())
register_twin("flatten", lambda layer, dtype: nn.Flatten())


def to_torch(net: Sequential) -> nn.Sequential:
    """Build the ``torch.nn.Sequential`` twin of ``net``, with its weights copied.

    Layer names, parameter keys (``state_dict()`` equals ``net.named_params()`` in keys,
    shapes and values) and dtype are the same as in ``net``.
    """
    dtype = TORCH_DTYPE[np.dtype(net.dtype or np.float64)]
    twin = nn.Sequential(OrderedDict(
        (name, twin_of_layer(layer, dtype)) for name, layer in net.layers.items()
    ))
    copy_to_torch(net, twin)
    return twin


def copy_to_torch(net: Sequential, twin: nn.Module) -> None:
    """Copy ``net``'s weights into ``twin`` (keys must match)."""
    params = {k: torch.from_numpy(np.array(v)) for k, v in net.named_params().items()}
    missing, unexpected = twin.load_state_dict(params, strict=False)
    if missing or unexpected:
        raise ValueError(f"copy_to_torch: keys differ: missing {missing}, unexpected {unexpected}")


def copy_from_torch(twin: nn.Module, net: Sequential) -> None:
    """Copy ``twin``'s weights into ``net`` (keys must match)."""
    net.load_params({k: v.detach().cpu().numpy() for k, v in twin.state_dict().items()})
