"""The kinds the reference side knows, each registered once: ``KINDS``, name -> ``Kind``.

A kind is one module here (``conv2d.py``: its twin, battery and conditions) beside its
catalogue of mistakes (``reference/mistakes/``) and scratchnet's layer of it; adding a kind
is a module and one line below.
"""

from __future__ import annotations

from types import MappingProxyType

from reference.kinds import (
    adam,
    batchnorm,
    conv2d,
    dense,
    dropout,
    layernorm,
    maxpool2d,
    relu,
    rmsprop,
    sgd,
    softmax_ce,
)
from reference.kinds.kind import Condition, Configuration, Kind
from reference.twin import register_twin


def _registry(*kinds: Kind) -> MappingProxyType:
    """The kinds by name, their twins registered for layers of their kind."""
    registry: dict[str, Kind] = {}
    for kind in kinds:
        if kind.name in registry:
            raise ValueError(f"two kinds are named {kind.name!r}")
        registry[kind.name] = kind
        if kind.twin is not None:
            register_twin(kind.name, kind.twin)
    return MappingProxyType(registry)


KINDS = _registry(conv2d.KIND, maxpool2d.KIND, dense.KIND, relu.KIND, softmax_ce.KIND,
                  batchnorm.KIND_1D, batchnorm.KIND_2D, layernorm.KIND,
                  sgd.KIND, adam.KIND, rmsprop.KIND)
register_twin("dropout", dropout.twin)   # until its Kind is registered above

#: The kinds ``check_layer`` checks, in order.
CHECKED_KINDS = tuple(KINDS)


def kind_named(name: str) -> Kind:
    """The kind called ``name``; ValueError naming the known kinds if there is none."""
    if name not in KINDS:
        raise ValueError(f"unknown kind {name!r}: expected one of {', '.join(KINDS)}")
    return KINDS[name]


__all__ = ["CHECKED_KINDS", "KINDS", "Condition", "Configuration", "Kind", "kind_named"]
