"""The catalogue of classic mistakes: ``MISTAKES``, an ordered mapping id -> ``Mistake``.

Every entry names a mistake people make when they write a layer, the loss or an optimizer
by hand, and carries a faulty variant that makes exactly it (see ``entry.Mistake``). The
variants subclass plain NumPy implementations written from the seed's equations
(``PlainConv2D`` ... ``PlainAdam``), each overriding one method, and take the constructor
arguments of scratchnet's class of their kind, so they can stand wherever it does::

    from reference import MISTAKES, compare
    from reference.mistakes import substitute
    mistake = MISTAKES["conv-kernel-not-flipped-input-grad"]
    net.layers["conv2"] = substitute(net.layers["conv2"], mistake.variant)
    compare(net, x, labels).attrs["first_divergence"]      # 'conv2 grad input'

To diagnose someone's layer of a kind, run ``of_kind(kind)``'s variants on the same
configuration, weights and upstream gradient, and see whose numbers theirs match.
"""

from __future__ import annotations

from collections.abc import Iterable
from types import MappingProxyType

from reference.mistakes import conv, dense, loss, optim, pool, relu
from reference.mistakes.conv import PlainConv2D
from reference.mistakes.dense import PlainDense
from reference.mistakes.entry import CONDITIONS, KINDS, QUANTITIES, Mistake
from reference.mistakes.loss import PlainSoftmaxCrossEntropy
from reference.mistakes.optim import PlainAdam, PlainSGD
from reference.mistakes.pool import PlainMaxPool2D
from reference.mistakes.relu import PlainReLU
from reference.mistakes.swap import configuration, substitute
from reference.mistakes.table import document


def _registry(entries: Iterable[Mistake]) -> MappingProxyType:
    """The entries by id, in ``KINDS`` order (the modules' order within a kind)."""
    registry: dict[str, Mistake] = {}
    for mistake in sorted(entries, key=lambda m: KINDS.index(m.kind)):
        if mistake.id in registry:
            raise ValueError(f"two mistakes have the id {mistake.id!r}")
        registry[mistake.id] = mistake
    return MappingProxyType(registry)


MISTAKES = _registry([*conv.MISTAKES, *pool.MISTAKES, *dense.MISTAKES, *relu.MISTAKES,
                      *loss.MISTAKES, *optim.MISTAKES])

#: The correct plain implementation each kind's variants derive from (clip: none, its
#: variants are whole functions like ``scratchnet.optim.clip_grad_norm``).
PLAIN = {"conv2d": PlainConv2D, "maxpool2d": PlainMaxPool2D, "dense": PlainDense,
         "relu": PlainReLU, "softmax-ce": PlainSoftmaxCrossEntropy, "sgd": PlainSGD,
         "adam": PlainAdam}


def of_kind(kind: str) -> list[Mistake]:
    """The catalogued mistakes of ``kind`` (one of ``KINDS``), in catalogue order."""
    if kind not in KINDS:
        raise ValueError(f"of_kind: kind must be one of {KINDS}, got {kind!r}")
    return [m for m in MISTAKES.values() if m.kind == kind]


def markdown() -> str:
    """The catalogue as the Markdown page ``reference/MISTAKES.md``."""
    return document(MISTAKES)


__all__ = ["CONDITIONS", "KINDS", "MISTAKES", "PLAIN", "QUANTITIES", "Mistake",
           "configuration", "markdown", "of_kind", "substitute"]
