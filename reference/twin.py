"""The PyTorch twin of a scratchnet network, and weight copying both ways."""

from __future__ import annotations

from collections import OrderedDict

import numpy as np
import torch
from torch import nn

from scratchnet import Conv2D, Dense, Flatten, Identity, MaxPool2D, ReLU, Sequential
from scratchnet.layers import Layer

TORCH_DTYPE = {np.dtype(np.float32): torch.float32, np.dtype(np.float64): torch.float64}


class UntiedBiasConv2d(nn.Module):
    """A convolution whose bias has one value per output position, the seed's ``B_i``.

    ``torch.nn.functional.conv2d`` without bias, plus a ``(C_out, H_out, W_out)`` bias
    parameter. Its ``state_dict()`` keys are ``weight`` and ``bias``, like ``nn.Conv2d``'s.
    """

    def __init__(self, layer: Conv2D, dtype: torch.dtype) -> None:
        super().__init__()
        self.stride, self.padding = layer.stride, layer.padding
        self.weight = nn.Parameter(torch.zeros(layer.params["weight"].shape, dtype=dtype))
        self.bias = nn.Parameter(torch.zeros(layer.params["bias"].shape, dtype=dtype))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = nn.functional.conv2d(x, self.weight, None, self.stride, self.padding)
        return y + self.bias


def twin_of_layer(layer: Layer, dtype: torch.dtype) -> nn.Module:
    """The torch module computing what ``layer`` computes (weights not yet copied)."""
    if isinstance(layer, Conv2D):
        if layer.bias_mode == "untied":
            return UntiedBiasConv2d(layer, dtype)
        return nn.Conv2d(
            layer.in_channels, layer.out_channels, layer.kernel_size, layer.stride,
            layer.padding, bias=layer.bias_mode == "tied", dtype=dtype,
        )
    if isinstance(layer, MaxPool2D):
        return nn.MaxPool2d(layer.kernel_size, layer.stride)
    if isinstance(layer, Dense):
        return nn.Linear(layer.in_features, layer.out_features, dtype=dtype)
    if isinstance(layer, ReLU):
        return nn.ReLU()
    if isinstance(layer, Identity):
        return nn.Identity()
    if isinstance(layer, Flatten):
        return nn.Flatten()
    raise TypeError(f"to_torch: no PyTorch twin for {layer.label}")


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
