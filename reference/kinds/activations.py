"""The element-wise activations courses assign after the ReLU (no seed equation): the
sigmoid, tanh and the leaky ReLU, each its own kind (``SIGMOID``, ``TANH``,
``LEAKY_RELU``), sharing this module because their batteries, conditions and CS231n
functions differ only in a few words. Twins: ``nn.Sigmoid``, ``nn.Tanh``,
``nn.LeakyReLU(negative_slope)``.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable
from typing import Any

import numpy as np
from torch import nn

from reference.guard import NotSupportedError, unpack
from reference.kinds.kind import NON_CONTIGUOUS, Configuration, Draw, FunctionStyle, Kind, negate
from reference.twin import layer_setting
from scratchnet import LeakyReLU, Sigmoid, Tanh

#: PyTorch's default slope, and so the one a leaky ReLU built without arguments has.
DEFAULT_SLOPE = 0.01


def configuration(name: str, shape: tuple[int, ...], draw: str = "normal",
                  contiguous: bool = True, slope: float | None = None) -> Configuration:
    """An activation on an input of ``shape``, drawn as ``draw``; ``slope``: a leaky
    ReLU's ``negative_slope`` (None: built without arguments, PyTorch's 0.01)."""
    if slope is None:
        return Configuration(name, (), {}, shape, draw, contiguous)
    return Configuration(name, (slope,), {}, shape, draw, contiguous,
                         {"negative_slope": slope})


# ---- the sigmoid and tanh ------------------------------------------------------------------

SATURATING = (
    configuration("the plainest", (3, 5)),
    configuration("large |x| (+-800 to 1000: exp overflows)", (4, 6), "huge"),
    configuration("large |x|, 4-D", (2, 3, 4, 5), "huge"),
    configuration("4-D input", (2, 3, 4, 5)),
    configuration("one example", (1, 7)),
    configuration("non-contiguous input", (4, 6), contiguous=False),
)


def random_saturating(name: str, r: Draw) -> Configuration:
    shape = tuple(r(1, 5) for _ in range(r(2, 4)))
    return configuration(name, shape, ["normal", "huge"][r(0, 1)], contiguous=bool(r(0, 3)))


def huge(c: Configuration, x: np.ndarray) -> bool:
    """Inputs beyond 709.78, where ``exp`` overflows to inf."""
    return bool((np.abs(x) > 709.78).any())


SATURATING_CONDITIONS = (
    ("large |x| (where exp(|x|) overflows)", huge), ("no large |x|", negate(huge)),
    ("more than two axes", lambda c, x: len(c.shape) > 2),
    NON_CONTIGUOUS,
)


# ---- the leaky ReLU ------------------------------------------------------------------------

LEAKY = (
    configuration("the plainest", (3, 5)),
    configuration("exact zeros", (2, 6), "exact zeros"),
    configuration("slope 0.2", (3, 5), slope=0.2),
    configuration("slope 0.2, exact zeros", (2, 3, 4, 5), "exact zeros", slope=0.2),
    configuration("slope 0.01 given", (2, 6), slope=0.01),
    configuration("4-D input", (2, 3, 4, 5)),
    configuration("one example", (1, 7)),
    configuration("non-contiguous input", (4, 6), contiguous=False),
)


def random_leaky(name: str, r: Draw) -> Configuration:
    shape = tuple(r(1, 5) for _ in range(r(2, 4)))
    slope = [None, 0.01, 0.1, 0.2, 0.3][r(0, 4)]
    return configuration(name, shape, ["normal", "exact zeros"][r(0, 1)],
                         contiguous=bool(r(0, 3)), slope=slope)


def exact_zeros(c: Configuration, x: np.ndarray) -> bool:
    return bool((x == 0).any())


def other_slope(c: Configuration, x: np.ndarray) -> bool:
    """A slope other than PyTorch's default 0.01."""
    return c.settings.get("negative_slope", DEFAULT_SLOPE) != DEFAULT_SLOPE


LEAKY_CONDITIONS = (
    ("exact zeros in the input", exact_zeros), ("no exact zeros", negate(exact_zeros)),
    ("a slope other than 0.01", other_slope), ("the slope 0.01", negate(other_slope)),
    ("more than two axes", lambda c, x: len(c.shape) > 2),
    NON_CONTIGUOUS,
)


def slope_of(layer: Any) -> float:
    """A leaky ReLU's ``negative_slope`` attribute (PyTorch's default when it has none)."""
    return float(layer_setting(layer, "negative_slope", DEFAULT_SLOPE, "leaky-relu"))


# ---- CS231n functions ----------------------------------------------------------------------

def cs231n_layer(forward: Callable, backward: Callable, names: tuple[str, str]) -> type:
    """``forward(x) -> (out, cache)``, ``backward(dout, cache) -> dx``."""
    return _function_layer(forward, backward, names, slope=False)


def cs231n_leaky_layer(forward: Callable, backward: Callable, names: tuple[str, str]) -> type:
    """As ``cs231n_layer``, the slope given as the forward's second argument when it takes
    one (``alpha``, ``negative_slope``, ...); else it has its own (0.01 in the course code
    seen) and configurations with another slope are not supported by it."""
    return _function_layer(forward, backward, names, slope=len(_parameters(forward)) >= 2)


def _function_layer(forward: Callable, backward: Callable, names: tuple[str, str],
                    slope: bool) -> type:
    class FunctionActivation:
        def __init__(self, negative_slope: float | None = None) -> None:
            given = DEFAULT_SLOPE if negative_slope is None else negative_slope
            if not slope and given != DEFAULT_SLOPE:
                raise NotSupportedError(f"{names[0]} takes no slope (it has its own)")
            self.args = (given,) if slope else ()
            self.params: dict[str, Any] = {}
            self.grads: dict[str, Any] = {}

        def forward(self, x: np.ndarray) -> Any:
            out, self.cache = unpack(forward(x, *self.args), ("out", "cache"), names[0])
            return out

        def backward(self, dout: np.ndarray) -> Any:
            return backward(dout, self.cache)

    return FunctionActivation


def _parameters(function: Callable) -> list[str]:
    try:
        return [p.name for p in inspect.signature(function).parameters.values()
                if p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD)]
    except (TypeError, ValueError):
        return ["x"]


SIGMOID = Kind("sigmoid", Sigmoid, SATURATING, random_saturating, SATURATING_CONDITIONS,
               twin=lambda layer, dtype: nn.Sigmoid(),
               functions=FunctionStyle((("sigmoid_forward", "sigmoid_backward"),),
                                       cs231n_layer))
TANH = Kind("tanh", Tanh, SATURATING, random_saturating, SATURATING_CONDITIONS,
            twin=lambda layer, dtype: nn.Tanh(),
            functions=FunctionStyle((("tanh_forward", "tanh_backward"),), cs231n_layer))
LEAKY_RELU = Kind("leaky-relu", LeakyReLU, LEAKY, random_leaky, LEAKY_CONDITIONS,
                  twin=lambda layer, dtype: nn.LeakyReLU(slope_of(layer)),
                  rebuild=lambda layer, input_shape: ((slope_of(layer),), {}),
                  functions=FunctionStyle(
                      (("leaky_relu_forward", "leaky_relu_backward"),), cs231n_leaky_layer,
                      ("leaky_relu_forward(x, negative_slope) when it takes a second "
                       "argument, else its own slope (0.01 only)",)))
