"""The one check of a layer's initialization: the distribution its weights and bias follow."""

from __future__ import annotations

import numpy as np

from scratchnet.layers import Layer


def assert_initialized(layer: Layer, init: str, fan_in: int) -> None:
    """Assert ``layer``'s parameters follow ``init`` for ``fan_in`` inputs per output.

    ``"torch"``: weight and bias ``U(-b, b)`` with ``b = 1/sqrt(fan_in)``: inside the bound,
    mean 0 and standard deviation ``b/sqrt(3)``. ``"he"``: weight ``N(0, 2/fan_in)``, bias 0.
    The moments are estimated from the layer's own draws, so each is allowed four standard
    errors (``std/sqrt(n)`` for the mean, at most ``std/sqrt(2n)`` for the spread) of its
    ``n`` numbers: a fixed seed, and an error of init's form or scale is far outside that.
    """
    assert layer.init == init
    bound = 1 / np.sqrt(fan_in)
    for name, p in layer.params.items():
        if init == "he" and name == "bias":
            assert not p.any(), "he: the bias starts at zero"
            continue
        std = bound / np.sqrt(3) if init == "torch" else np.sqrt(2 / fan_in)
        if init == "torch":
            assert np.abs(p).max() <= bound, f"{name} outside U(-{bound:.3g}, {bound:.3g})"
        assert abs(p.mean()) < 4 * std / np.sqrt(p.size), f"{name} mean {p.mean():.3g}"
        assert abs(p.std() - std) < 4 * std / np.sqrt(2 * p.size), (
            f"{name} std {p.std():.3g}, expected {std:.3g}")
