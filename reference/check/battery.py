"""The battery: the configurations a layer of each kind is checked in, and their data.

A configuration (``reference.kinds.Configuration``) is a layer's constructor arguments and
the input it gets. Every kind (``reference/kinds/``) has a fixed list of *named*
configurations, the plainest one and one for each thing a mistake
may need before it shows (a second example, a stride, padding, an untied bias, ties, zero
backgrounds, exact zeros, large and equal logits, odd sizes, a non-contiguous input, ...),
followed by random ones drawn from a seed. Everything is float64, so a right layer agrees
with PyTorch to about 1e-15 and the project's tolerance (1e-12) sees any real mistake.

A configuration passes a class only the keyword arguments it needs (``stride`` only when
it is not 1, ``bias`` only when it is not tied, ...): a class without them is still checked
in every configuration it can take.
"""

from __future__ import annotations

import numpy as np

from reference.kinds import CHECKED_KINDS, KINDS, Configuration, kind_named

#: Random configurations drawn after the named ones, by default.
RANDOM_CONFIGURATIONS = 8


def random_configuration(kind: str, i: int, rng: np.random.Generator) -> Configuration:
    """The ``i``-th random configuration of ``kind``: sizes, strides, padding and inputs
    drawn from ``rng`` (small, so a plain loop implementation stays fast)."""
    return KINDS[kind].random(f"random {i}", lambda low, high: int(rng.integers(low, high + 1)))


def battery(kind: str, random_configurations: int = RANDOM_CONFIGURATIONS,
            seed: int = 0) -> list[Configuration]:
    """The named configurations of ``kind`` and ``random_configurations`` random ones."""
    try:
        named = kind_named(kind).named
    except ValueError as err:
        raise ValueError(f"check_layer: {err}") from None
    rng = np.random.default_rng([seed, CHECKED_KINDS.index(kind)])
    return [*named,
            *(random_configuration(kind, i + 1, rng) for i in range(random_configurations))]
