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
    parameter shapes and hyperparameters (see ``reference/kinds/``); register a class for a
    layer that computes something else.
    """
    if isinstance(kind_or_class, str):
        _TWIN_OF_KIND[kind_or_class] = factory
    elif isinstance(kind_or_class, type):
        _TWIN_OF_CLASS[kind_or_class] = factory
    else:
        raise TypeError(f"register_twin: expected a kind or a class, got {kind_or_class!r}")


def twin_of_layer(layer: LayerProtocol, dtype: torch.dtype) -> nn.Module:
    """The torch module computing what ``layer`` computes (weights not yet copied), in
    ``layer``'s mode: training unless its ``training`` attribute is False."""
    factory = next((_TWIN_OF_CLASS[cls] for cls in type(layer).__mro__
                    if cls in _TWIN_OF_CLASS), None)
    kind = getattr(layer, "kind", None)
    if factory is None and kind in _TWIN_OF_KIND:
        factory = _TWIN_OF_KIND[kind]
    if factory is not None:
        return factory(layer, dtype).train(bool(getattr(layer, "training", True)))
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


def layer_setting(layer: Any, name: str, default: Any, kind: str) -> Any:
    """``layer``'s hyperparameter ``name`` (``default`` when it has no such attribute), for
    building its twin; a TypeError naming the attribute when neither gives one."""
    value = getattr(layer, name, default)
    if value is None:
        raise TypeError(f"to_torch: a {kind} layer needs a {name} attribute for its twin, "
                        f"{type(layer).__name__} has none")
    return value


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


# The kinds' twins are registered with the kinds (reference/kinds/); these two layers
# are not checked kinds, but networks hold them.
register_twin("identity", lambda layer, dtype: nn.Identity())
register_twin("flatten", lambda layer, dtype: nn.Flatten())


def to_torch(net: Sequential) -> nn.Sequential:
    """Build the ``torch.nn.Sequential`` twin of ``net``, with its weights and buffers
    copied, each module in its layer's mode (training or eval).

    Layer names, parameter keys (``state_dict()`` equals ``net.named_params()`` and
    ``net.named_buffers()`` in keys, shapes and values) and dtype are the same as in
    ``net``.
    """
    dtype = TORCH_DTYPE[np.dtype(net.dtype or np.float64)]
    twin = nn.Sequential(OrderedDict(
        (name, twin_of_layer(layer, dtype)) for name, layer in net.layers.items()
    ))
    copy_to_torch(net, twin)
    return twin


def copy_to_torch(net: Sequential, twin: nn.Module) -> None:
    """Copy ``net``'s weights and buffers (``named_buffers()``: a batch norm's running
    statistics) into ``twin``. Every parameter key must match; a buffer the twin has and
    ``net``'s layer does not keep (a hand-written batch norm without
    ``num_batches_tracked``) keeps the twin's value."""
    state = {**net.named_params(), **net.named_buffers()}
    values = {k: torch.from_numpy(np.array(v)) for k, v in state.items()}
    missing, unexpected = twin.load_state_dict(values, strict=False)
    buffers = dict(twin.named_buffers())
    missing = [k for k in missing if k not in buffers]
    if missing or unexpected:
        raise ValueError(f"copy_to_torch: keys differ: missing {missing}, unexpected {unexpected}")


def copy_from_torch(twin: nn.Module, net: Sequential) -> None:
    """Copy ``twin``'s weights, and the buffers ``net``'s layers keep, into ``net`` (keys
    must match)."""
    state = {k: v.detach().cpu().numpy() for k, v in twin.state_dict().items()}
    buffers = dict(twin.named_buffers())
    net.load_params({k: v for k, v in state.items() if k not in buffers})
    own = net.named_buffers()
    if own:
        net.load_buffers({k: state[k] for k in own if k in state})
