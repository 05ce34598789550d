"""Softmax with cross-entropy, eqs. (15)-(18): its battery and its conditions (PyTorch's
side is ``F.cross_entropy``, averaged over the batch)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

from reference.guard import unpack
from reference.kinds.kind import BATCH, Configuration, Draw, FunctionStyle, Kind, negate
from scratchnet import SoftmaxCrossEntropy


def configuration(name: str, n: int, k: int, draw: str = "normal") -> Configuration:
    """``n`` examples' logits over ``k`` classes, drawn as ``draw``."""
    return Configuration(name, (), {}, (n, k), draw)


NAMED = (
    configuration("the plainest", 1, 5),
    configuration("batch > 1", 6, 5),
    configuration("large logits", 3, 5, "sure and wrong"),
    configuration("equal logits", 4, 5, "equal"),
    configuration("shifted logits", 3, 4, "shifted"),
    configuration("two classes", 5, 2),
)


def random_configuration(name: str, r: Draw) -> Configuration:
    return configuration(name, r(1, 8), r(2, 10))


def large(c: Configuration, x: np.ndarray) -> bool:
    return bool(np.abs(x).max() > 100)


CONDITIONS = (
    *BATCH,
    ("large logits (beyond 100)", large), ("logits of ordinary size", negate(large)),
    ("equal logits", lambda c, x: bool((x == x[:, :1]).all())),
    ("a class far below the best (its probability underflows to 0)",
     lambda c, x: bool((np.ptp(x, axis=1) > 745).any())),   # exp(-746) is 0
)

def cs231n_layer(forward: Callable, backward: None, names: tuple[str, None]) -> type:
    class FunctionSoftmaxLoss:
        """``softmax_loss(x, y) -> (loss, dx)``: the loss and its gradient in one call."""

        def forward(self, logits: np.ndarray, labels: np.ndarray) -> Any:
            loss, self.dx = unpack(forward(logits, labels), ("loss", "dx"), names[0])
            return loss

        def backward(self) -> Any:
            return self.dx

    return FunctionSoftmaxLoss


FUNCTIONS = FunctionStyle((("softmax_loss", None),), cs231n_layer,
                          ("softmax_loss(x, y) returns (loss, dx) in one call",))

KIND = Kind("softmax-ce", SoftmaxCrossEntropy, NAMED, random_configuration, CONDITIONS,
            loss=True, functions=FUNCTIONS)
