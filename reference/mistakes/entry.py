"""One catalogued mistake (``Mistake``: what it is, which equation it breaks, and a class
that makes it) and one kind's catalogue of them (``Catalogue``: the mistakes and the words
they are described in)."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

_ID = re.compile(r"[a-z0-9]+(-[a-z0-9]+)+")


@dataclass(frozen=True)
class Mistake:
    """A classic mistake and a faulty implementation that makes exactly it.

    Attributes:
        id: stable kebab-case name, e.g. ``"conv-kernel-not-flipped-input-grad"``.
        kind: the kind it is made in (its catalogue's).
        sentence: the mistake in one sentence a student understands.
        equation: the seed report's equation it breaks, e.g. ``"(4)"``; None when the seed
            has none (the optimizers).
        variant: the faulty implementation, used exactly as scratchnet's of that kind: a
            class taking the same constructor arguments (a subclass of it), or for
            ``clip`` a function like ``scratchnet.optim.clip_grad_norm``.
        quantity: the first of its catalogue's ``quantities`` that the variant gets wrong.
        shows_on: the condition of its catalogue's ``shows_on`` an input needs for the
            mistake to show; None when any input shows it.
        in_network: the layer of ``seed_network("full")`` whose replacement by the variant
            makes ``reference.compare`` report ``f"{in_network} {quantity}"`` as the first
            divergence; None when the seed network's inputs cannot show it (no stride, no
            padding, no square convolution, no exact zeros before a ReLU) or it is not a
            layer.
    """

    id: str
    kind: str
    sentence: str
    equation: str | None
    variant: Any
    quantity: str
    shows_on: str | None = None
    in_network: str | None = None

    def __post_init__(self) -> None:
        def fail(message: str) -> None:
            raise ValueError(f"mistake {self.id!r}: {message}")

        if not _ID.fullmatch(self.id):
            fail("the id must be kebab-case (lowercase words joined by '-')")
        if self.equation is not None and not re.fullmatch(r"\(\d+\)", self.equation):
            fail(f"equation must look like '(4)', got {self.equation!r}")

    def describe(self) -> str:
        """``"<id>: <sentence>"`` with the equation, e.g. for a diagnosis."""
        where = f" (eq. {self.equation})" if self.equation else ""
        return f"{self.id}{where}: {self.sentence}"


@dataclass(frozen=True)
class Catalogue:
    """One kind's catalogued mistakes, registered once in ``reference.mistakes``.

    Attributes:
        kind: the kind (``"conv2d"``, ``"sgd"``, ...).
        plain: the correct plain implementation its variants derive from (None when they
            are whole functions, as gradient clipping's).
        check: the check that catches them, in words (``reference/MISTAKES.md``).
        shows_on: the inputs a mistake may need before it shows. A mistake that needs
            none shows on the plainest input of its kind (one example, stride 1, no
            padding, no ties, ...).
        quantities: what the kind's check compares with PyTorch, in the order it compares
            them; a mistake names the first it gets wrong (optimizers: the parameters
            after each step, ``"... step t"``).
        mistakes: its entries, in the order the catalogue lists them.
    """

    kind: str
    plain: Any
    check: str
    shows_on: tuple[str, ...]
    quantities: tuple[str, ...]
    mistakes: tuple[Mistake, ...] = field(default_factory=tuple)

    def __post_init__(self) -> None:
        for m in self.mistakes:
            def fail(message: str, m: Mistake = m) -> None:
                raise ValueError(f"mistake {m.id!r}: {message}")

            if m.kind != self.kind:
                fail(f"it is in the {self.kind} catalogue, but its kind is {m.kind!r}")
            if m.shows_on is not None and m.shows_on not in self.shows_on:
                fail(f"shows_on must be one of {self.shows_on} or None, got {m.shows_on!r}")
            if m.quantity.rstrip(" 0123456789") not in self.quantities:
                fail(f"quantity must be one of {self.quantities}, got {m.quantity!r}")
