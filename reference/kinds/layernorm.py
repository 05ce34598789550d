"""Layer norm: its twin, its battery and its conditions. It has no modes and keeps nothing
between batches, so the layer's procedure checks it (one forward, one backward)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
import torch
from torch import nn

from reference.guard import NotSupportedError, unpack
from reference.kinds.data import OFFSET
from reference.kinds.kind import (
    BATCH,
    NON_CONTIGUOUS,
    Configuration,
    Draw,
    FunctionStyle,
    Kind,
    negate,
    setting,
)
from reference.kinds.procedures import LayerProcedure
from reference.twin import layer_setting
from scratchnet import LayerNorm

LARGE_MEAN = "large mean, tiny variance"


def configuration(name: str, shape: tuple[int, ...], normalized: int | tuple[int, ...],
                  draw: str = "normal", contiguous: bool = True,
                  eps: float = 1e-5) -> Configuration:
    """A layer norm over the trailing ``normalized`` shape (an int: the last axis) of
    inputs of ``shape``; ``eps`` passed only when it is not PyTorch's 1e-5."""
    options = {} if eps == 1e-5 else {"eps": eps}
    axes = (normalized,) if isinstance(normalized, int) else normalized
    settings = {"normalized_shape": axes, "eps": eps}
    return Configuration(name, (normalized,), options, shape, draw, contiguous, settings)


# The large-mean ones normalise a power of two values per row (8, 4 * 4): exact statistics
# on the draw's grid (reference.kinds.data).
NAMED = (
    configuration("the plainest", (3, 5), 5),
    configuration("one example", (1, 6), 6),
    configuration("(N, L, D) input", (2, 3, 4), 4),
    configuration("normalised over (C, H, W)", (2, 3, 2, 2), (3, 2, 2)),
    configuration(LARGE_MEAN, (3, 8), 8, LARGE_MEAN),
    configuration("large mean, tiny variance, over (H, W)", (2, 4, 4), (4, 4), LARGE_MEAN),
    configuration("eps 0.01", (4, 3), 3, eps=0.01),
    configuration("one feature per row", (4, 1), 1),
    configuration("non-contiguous input", (4, 6), 6, contiguous=False),
)


def random_configuration(name: str, r: Draw) -> Configuration:
    normalized = tuple(r(1, 4) for _ in range(r(1, 2)))
    shape = (r(1, 4), *(r(1, 3) for _ in range(r(0, 1))), *normalized)
    return configuration(name, shape, normalized if len(normalized) > 1 else normalized[0],
                         contiguous=bool(r(0, 3)))


def several_axes(c: Configuration, x: np.ndarray) -> bool:
    """Normalised axes beyond the last that hold more than one value (``(3, 2, 2)``, not
    ``(1, 4)``): where normalising the last axis only differs."""
    shape = c.settings["normalized_shape"]
    return int(np.prod(shape)) > shape[-1]


def leading_axes(c: Configuration, x: np.ndarray) -> bool:
    """Axes before the normalised ones beyond the batch's: ``(N, L, D)``."""
    return len(c.shape) - len(c.settings["normalized_shape"]) > 1


def large_mean(c: Configuration, x: np.ndarray) -> bool:
    return c.draw == LARGE_MEAN


CONDITIONS = (
    *BATCH,
    ("more than one normalised axis", several_axes), ("one normalised axis", negate(several_axes)),
    ("leading axes beyond the batch's", leading_axes),
    ("a large mean with a tiny variance", large_mean),
    ("values of order one", negate(large_mean)),
    ("eps other than 1e-5", setting("eps", lambda e: e != 1e-5)),
    ("one value per row", lambda c, x: int(np.prod(c.settings["normalized_shape"])) == 1),
    NON_CONTIGUOUS,
)


def settings(layer: Any) -> dict[str, Any]:
    """A layer norm's ``normalized_shape`` (its weight's shape) and ``eps`` (default 1e-5),
    as ``LayerNorm``'s arguments."""
    return {"normalized_shape": tuple(layer.params["weight"].shape),
            "eps": layer_setting(layer, "eps", 1e-5, "layernorm")}


def twin(layer: Any, dtype: torch.dtype) -> nn.Module:
    return nn.LayerNorm(**settings(layer), dtype=dtype)


def rebuild(layer: Any, input_shape: tuple[int, ...]) -> tuple[tuple, dict[str, Any]]:
    s = settings(layer)
    return (s["normalized_shape"],), {"eps": s["eps"], "dtype": layer.params["weight"].dtype}


class LayerNormProcedure(LayerProcedure):
    """The layer's procedure, with PyTorch's quantities on a large mean computed on ``x -
    OFFSET``: a layer norm does not change when a constant is subtracted from its input,
    and PyTorch's CPU kernel loses about ``eps_64 |x| / std`` on ``x`` itself (far past
    1e-12 at a mean of 1e4 and a variance of 1e-8) while ``x - OFFSET`` is exact on the
    draw's grid."""

    def reference_input(self, config: Configuration, x: np.ndarray) -> np.ndarray:
        return x - OFFSET if config.draw == LARGE_MEAN else x


def cs231n_layer(forward: Callable, backward: Callable, names: tuple[str, str]) -> type:
    class FunctionLayerNorm:
        """``forward(x, gamma, beta, ln_param) -> (out, cache)``, ``backward(dout, cache)
        -> (dx, dgamma, dbeta)``, ``x: (N, D)``, ``gamma``, ``beta``: ``(D,)``."""

        def __init__(self, normalized_shape: int | tuple[int, ...], eps: float = 1e-5) -> None:
            shape = (normalized_shape,) if np.isscalar(normalized_shape) else normalized_shape
            if len(shape) != 1:
                raise NotSupportedError("its gamma is (D,): one normalised axis only")
            self.params = {"weight": np.ones(shape), "bias": np.zeros(shape)}
            self.grads: dict[str, Any] = {}
            self.ln_param = {"eps": eps}

        def forward(self, x: np.ndarray) -> Any:
            self.shape = x.shape
            out, self.cache = unpack(forward(x.reshape(-1, x.shape[-1]), self.params["weight"],
                                             self.params["bias"], dict(self.ln_param)),
                                     ("out", "cache"), names[0])
            return np.asarray(out).reshape(self.shape) if len(self.shape) != 2 else out

        def backward(self, dout: np.ndarray) -> Any:
            dx, dgamma, dbeta = unpack(backward(dout.reshape(-1, dout.shape[-1]), self.cache),
                                       ("dx", "dgamma", "dbeta"), names[1])
            self.grads = {"weight": dgamma, "bias": dbeta}
            return np.asarray(dx).reshape(self.shape) if len(self.shape) != 2 else dx

    return FunctionLayerNorm


FUNCTIONS = FunctionStyle(
    (("layernorm_forward", "layernorm_backward"),), cs231n_layer,
    ("ln_param {'eps'}", "x: (N, D), gamma and beta (D,); leading axes of (N, L, D) are handed "
     "as rows of (N * L, D)"))

KIND = Kind("layernorm", LayerNorm, NAMED, random_configuration, CONDITIONS, twin, rebuild,
            functions=FUNCTIONS, procedure=LayerNormProcedure())
