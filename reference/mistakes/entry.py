"""One catalogued mistake: what it is, which equation it breaks, and a class that makes it."""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

#: The kinds of implementation a mistake can be made in, in the catalogue's order.
KINDS = ("conv2d", "maxpool2d", "dense", "relu", "softmax-ce", "sgd", "adam", "clip")

#: The inputs a mistake may need before it shows, per kind. A mistake that needs none shows
#: on the plainest input of its kind (one example, stride 1, no padding, no ties, ...).
CONDITIONS: dict[str, tuple[str, ...]] = {
    "conv2d": ("batch > 1", "stride > 1", "padding > 0", "untied bias", "non-square input",
               "sizes the stride does not divide", "stride > 1 with padding > 0"),
    "maxpool2d": ("ties", "overlapping windows", "odd size", "non-square input"),
    "dense": ("batch > 1",),
    "relu": ("exact zeros",),
    "softmax-ce": ("batch > 1", "large logits"),
    "sgd": ("momentum", "momentum and weight decay", "dampening"),
    "adam": ("weight decay",),
    "clip": ("norm below max_norm",),
}

#: What a kind's check compares with PyTorch, in the order it compares them; a mistake names
#: the first of them it gets wrong (optimizers: the parameters after each step, "...step t").
QUANTITIES: dict[str, tuple[str, ...]] = {
    "conv2d": ("output", "grad input", "grad weight", "grad bias"),
    "maxpool2d": ("output", "grad input"),
    "dense": ("output", "grad input", "grad weight", "grad bias"),
    "relu": ("output", "grad input"),
    "softmax-ce": ("loss", "grad logits"),
    "sgd": ("parameters after step",),
    "adam": ("parameters after step",),
    "clip": ("clipped gradients", "norm"),
}

_ID = re.compile(r"[a-z0-9]+(-[a-z0-9]+)+")


@dataclass(frozen=True)
class Mistake:
    """A classic mistake and a faulty implementation that makes exactly it.

    Attributes:
        id: stable kebab-case name, e.g. ``"conv-kernel-not-flipped-input-grad"``.
        kind: one of ``KINDS``.
        sentence: the mistake in one sentence a student understands.
        equation: the seed report's equation it breaks, e.g. ``"(4)"``; None when the seed
            has none (the optimizers).
        variant: the faulty implementation, used exactly as scratchnet's of that kind: a
            class taking the same constructor arguments (a subclass of it), or for
            ``clip`` a function like ``scratchnet.optim.clip_grad_norm``.
        quantity: the first quantity of ``QUANTITIES[kind]`` that the variant gets wrong.
        shows_on: the condition of ``CONDITIONS[kind]`` an input needs for the mistake to
            show; None when any input shows it.
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
        if self.kind not in KINDS:
            fail(f"kind must be one of {KINDS}, got {self.kind!r}")
        if self.shows_on is not None and self.shows_on not in CONDITIONS[self.kind]:
            fail(f"shows_on must be one of {CONDITIONS[self.kind]} or None, got {self.shows_on!r}")
        if self.quantity.rstrip(" 0123456789") not in QUANTITIES[self.kind]:
            fail(f"quantity must be one of {QUANTITIES[self.kind]}, got {self.quantity!r}")
        if self.equation is not None and not re.fullmatch(r"\(\d+\)", self.equation):
            fail(f"equation must look like '(4)', got {self.equation!r}")

    def describe(self) -> str:
        """``"<id>: <sentence>"`` with the equation, e.g. for a diagnosis."""
        where = f" (eq. {self.equation})" if self.equation else ""
        return f"{self.id}{where}: {self.sentence}"
