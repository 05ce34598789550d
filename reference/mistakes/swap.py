"""Put another implementation in a layer's place: same configuration, weights and name."""

from __future__ import annotations

from reference.kinds import KINDS
from scratchnet.layers import Layer


def configuration(layer: Layer) -> tuple[tuple, dict]:
    """The constructor arguments ``(args, kwargs)`` that build another ``layer``: its
    kind's ``Kind.rebuild`` (``layer`` is scratchnet's, a subclass, or any layer of a
    known kind)."""
    kind = KINDS.get(getattr(layer, "kind", None))
    if kind is None:
        raise TypeError(f"configuration: no constructor arguments known for {layer.label}")
    return kind.rebuild(layer, None)


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
