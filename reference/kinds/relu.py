"""The ReLU, eqs. (11)-(12): its twin, its battery and its conditions."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
from torch import nn

from reference.guard import unpack
from reference.kinds.kind import NON_CONTIGUOUS, Configuration, Draw, FunctionStyle, Kind, negate
from scratchnet import ReLU


def configuration(name: str, shape: tuple[int, ...], draw: str = "normal",
                  contiguous: bool = True) -> Configuration:
    """A ReLU on an input of ``shape``, drawn as ``draw``."""
    return Configuration(name, (), {}, shape, draw, contiguous)


NAMED = (
    configuration("the plainest", (3, 5)),
    configuration("exact zeros", (2, 6), "exact zeros"),
    configuration("exact zeros, 4-D", (2, 3, 4, 5), "exact zeros"),
    configuration("4-D input", (2, 3, 4, 5)),
    configuration("one example", (1, 7)),
    configuration("non-contiguous input", (4, 6), contiguous=False),
)


def random_configuration(name: str, r: Draw) -> Configuration:
    shape = tuple(r(1, 5) for _ in range(r(2, 4)))
    return configuration(name, shape, ["normal", "exact zeros"][r(0, 1)],
                         contiguous=bool(r(0, 3)))


def exact_zeros(c: Configuration, x: np.ndarray) -> bool:
    return bool((x == 0).any())


CONDITIONS = (
    ("exact zeros in the input", exact_zeros), ("no exact zeros", negate(exact_zeros)),
    ("more than two axes", lambda c, x: len(c.shape) > 2),
    NON_CONTIGUOUS,
)

def cs231n_layer(forward: Callable, backward: Callable, names: tuple[str, str]) -> type:
    class FunctionReLU:
        """``forward(x) -> (out, cache)``, ``backward(dout, cache) -> dx``."""

        def __init__(self) -> None:
            self.params: dict[str, Any] = {}
            self.grads: dict[str, Any] = {}

        def forward(self, x: np.ndarray) -> Any:
            out, self.cache = unpack(forward(x), ("out", "cache"), names[0])
            return out

        def backward(self, dout: np.ndarray) -> Any:
            return backward(dout, self.cache)

    return FunctionReLU


FUNCTIONS = FunctionStyle((("relu_forward", "relu_backward"),), cs231n_layer)

KIND = Kind("relu", ReLU, NAMED, random_configuration, CONDITIONS,
            twin=lambda layer, dtype: nn.ReLU(), functions=FUNCTIONS)
