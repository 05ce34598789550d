"""The catalogue of classic mistakes: ``MISTAKES``, an ordered mapping id -> ``Mistake``.

Every entry names a mistake people make when they write a layer, the loss or an optimizer
by hand, and carries a faulty variant that makes exactly it (see ``entry.Mistake``). The
variants subclass plain NumPy implementations written from the seed's equations
(``PlainConv2D`` ... ``PlainRMSprop``), each overriding one method, and take the constructor
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

from types import MappingProxyType

from reference.mistakes import adam, clip, conv, dense, loss, norm, pool, relu, rmsprop, sgd
from reference.mistakes.entry import Catalogue, Mistake
from reference.mistakes.swap import configuration, substitute
from reference.mistakes.table import document

#: Every kind's catalogue, registered once, in the catalogue's order.
CATALOGUES: tuple[Catalogue, ...] = (conv.CATALOGUE, pool.CATALOGUE, dense.CATALOGUE,
                                     relu.CATALOGUE, loss.CATALOGUE, *norm.CATALOGUES,
                                     sgd.CATALOGUE, adam.CATALOGUE, rmsprop.CATALOGUE,
                                     clip.CATALOGUE)


def _registry(catalogues: tuple[Catalogue, ...]) -> MappingProxyType:
    """Every catalogue's entries by id, in the catalogues' order."""
    registry: dict[str, Mistake] = {}
    for mistake in (m for c in catalogues for m in c.mistakes):
        if mistake.id in registry:
            raise ValueError(f"two mistakes have the id {mistake.id!r}")
        registry[mistake.id] = mistake
    return MappingProxyType(registry)


MISTAKES = _registry(CATALOGUES)

#: The kinds mistakes are catalogued for, in order.
KINDS = tuple(c.kind for c in CATALOGUES)
#: Per kind, the inputs a mistake may need before it shows (``Catalogue.shows_on``).
CONDITIONS = {c.kind: c.shows_on for c in CATALOGUES}
#: Per kind, what its check compares with PyTorch (``Catalogue.quantities``).
QUANTITIES = {c.kind: c.quantities for c in CATALOGUES}
#: The correct plain implementation each kind's variants derive from (not for kinds whose
#: variants are whole functions, like gradient clipping's).
PLAIN = {c.kind: c.plain for c in CATALOGUES if c.plain is not None}


def of_kind(kind: str) -> list[Mistake]:
    """The catalogued mistakes of ``kind`` (one of ``KINDS``), in catalogue order."""
    if kind not in KINDS:
        raise ValueError(f"of_kind: kind must be one of {KINDS}, got {kind!r}")
    return [m for m in MISTAKES.values() if m.kind == kind]


def markdown() -> str:
    """The catalogue as the Markdown page ``reference/MISTAKES.md``."""
    return document(CATALOGUES)


__all__ = ["CATALOGUES", "CONDITIONS", "KINDS", "MISTAKES", "PLAIN", "QUANTITIES", "Catalogue",
           "Mistake", "configuration", "markdown", "of_kind", "substitute"]
