"""The fully connected layer, eqs. (7)-(10): its twin, its battery and its conditions."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
import torch
from torch import nn

from reference.guard import unpack
from reference.kinds.kind import (
    BATCH,
    NON_CONTIGUOUS,
    Configuration,
    Draw,
    FunctionStyle,
    Kind,
    negate,
    square_weight,
)
from scratchnet import Dense


def configuration(name: str, n: int, n_in: int, n_out: int,
                  contiguous: bool = True) -> Configuration:
    """A layer of ``n_in -> n_out`` features on ``(n, n_in)``."""
    return Configuration(name, (n_in, n_out), {}, (n, n_in), contiguous=contiguous,
                         settings={"in_features": n_in, "out_features": n_out})


NAMED = (
    configuration("the plainest", 1, 4, 3),
    configuration("batch > 1", 5, 4, 3),
    configuration("square", 3, 4, 4),
    configuration("the seed's fc2", 4, 128, 10),
    configuration("one feature", 2, 1, 1),
    configuration("non-contiguous input", 4, 5, 3, contiguous=False),
)


def random_configuration(name: str, r: Draw) -> Configuration:
    return configuration(name, r(1, 6), r(1, 12), r(1, 12), contiguous=bool(r(0, 3)))


CONDITIONS = (
    *BATCH,
    ("a square weight", square_weight), ("a weight that is not square", negate(square_weight)),
    NON_CONTIGUOUS,
)


def settings(layer: Any) -> dict[str, Any]:
    """A dense layer's sizes, from its ``weight: (out, in)``. Keys as ``Dense``'s arguments."""
    out_features, in_features = layer.params["weight"].shape
    return {"in_features": in_features, "out_features": out_features}


def twin(layer: Any, dtype: torch.dtype) -> nn.Module:
    s = settings(layer)
    return nn.Linear(s["in_features"], s["out_features"], dtype=dtype)


def rebuild(layer: Any, input_shape: tuple[int, ...]) -> tuple[tuple, dict[str, Any]]:
    s = settings(layer)
    return (s["in_features"], s["out_features"]), {"dtype": layer.params["weight"].dtype}


def cs231n_layer(forward: Callable, backward: Callable, names: tuple[str, str]) -> type:
    class FunctionDense:
        """``forward(x, w, b) -> (out, cache)`` with ``w: (D, M)``, PyTorch's weight
        transposed; ``backward(dout, cache) -> (dx, dw, db)``."""

        def __init__(self, in_features: int, out_features: int) -> None:
            self.params = {"weight": np.zeros((out_features, in_features)),
                           "bias": np.zeros(out_features)}
            self.grads: dict[str, Any] = {}

        def forward(self, x: np.ndarray) -> Any:
            out, self.cache = unpack(forward(x, self.params["weight"].T.copy(),
                                             self.params["bias"]), ("out", "cache"), names[0])
            return out

        def backward(self, dout: np.ndarray) -> Any:
            dx, dw, db = unpack(backward(dout, self.cache), ("dx", "dw", "db"), names[1])
            self.grads = {"weight": dw.T if isinstance(dw, np.ndarray) else dw, "bias": db}
            return dx

    return FunctionDense


FUNCTIONS = FunctionStyle(
    (("affine_forward", "affine_backward"),), cs231n_layer,
    ("w is (D, M), PyTorch's weight transposed: it is given weight.T and its dw is compared "
     "transposed",))

KIND = Kind("dense", Dense, NAMED, random_configuration, CONDITIONS, twin, rebuild,
            functions=FUNCTIONS)
