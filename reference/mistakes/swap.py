"""Put another implementation in a layer's place: same configuration, weights and name."""

from __future__ import annotations

from reference.kinds import KINDS
from scratchnet import Conv2D, Dense, MaxPool2D, ReLU
from scratchnet.layers import Layer


def configuration(layer: Layer) -> tuple[tuple, dict]:
    """The constructor arguments ``(args, kwargs)`` that build another ``layer``.

    ``layer`` is a scratchnet Conv2D, MaxPool2D, Dense or ReLU (or a subclass), or a layer
    of a kind whose module says how to rebuild it (``Kind.rebuild``).
    """
    if isinstance(layer, Conv2D):
        return ((layer.in_channels, layer.out_channels, layer.kernel_size, layer.stride,
                 layer.padding),
                {"bias": layer.bias_mode, "input_shape": layer.input_shape,
                 "dtype": layer.dtype})
    if isinstance(layer, MaxPool2D):
        return (layer.kernel_size, layer.stride), {}
    if isinstance(layer, Dense):
        return (layer.in_features, layer.out_features), {"dtype": layer.dtype}
    if isinstance(layer, ReLU):
        return (), {}
    kind = KINDS.get(getattr(layer, "kind", None))
    if kind is not None:                       # the kinds that say how to rebuild a layer
        return kind.rebuild(layer, None)
    raise TypeError(f"configuration: no constructor arguments known for {layer.label}")


def substitute(layer: Layer, cls: type) -> Layer:
    """A ``cls`` built as ``layer`` was, holding ``layer``'s very weights and name.

    The new layer shares ``layer``'s ``params`` and ``grads`` dicts (in a ``Sequential``,
    views into its flat arrays), so ``net.layers[name] = substitute(net.layers[name], cls)``
    runs ``cls`` with the network's weights, and ``reference.compare`` checks it.
    """
    args, kwargs = configuration(layer)
    new = cls(*args, **kwargs)
    new.params, new.grads, new.name = layer.params, layer.grads, layer.name
    return new
