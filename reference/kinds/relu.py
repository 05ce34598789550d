"""The ReLU, eqs. (11)-(12): its twin, its battery and its conditions."""

from __future__ import annotations

import numpy as np
from torch import nn

from reference.kinds.kind import NON_CONTIGUOUS, Configuration, Draw, Kind, negate
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

KIND = Kind("relu", ReLU, NAMED, random_configuration, CONDITIONS,
            twin=lambda layer, dtype: nn.ReLU())
