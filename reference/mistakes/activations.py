"""Mistakes in the sigmoid, tanh and leaky ReLU (no seed equation), and the plain layers
they are made in: one catalogue per kind (``SIGMOID``, ``TANH``, ``LEAKY_RELU``)."""

from __future__ import annotations

import numpy as np

from reference.mistakes.entry import Catalogue, Mistake
from scratchnet import naive
from scratchnet.layers import LeakyReLU, Sigmoid, Tanh


class PlainSigmoid(Sigmoid):
    """The sigmoid from ``naive``: ``activate`` (overflow-free), ``derivative`` from the
    output, ``y (1 - y)``; backward ``grad_y * derivative``."""

    def activate(self, x: np.ndarray) -> np.ndarray:
        return naive.sigmoid_forward(x)

    def derivative(self) -> np.ndarray:
        return self._y * (1.0 - self._y)

    def forward(self, x: np.ndarray) -> np.ndarray:
        self._x, self._y = x, self.activate(x)
        return self._y

    def backward(self, grad_y: np.ndarray) -> np.ndarray:
        return grad_y * self.derivative()


# Real code: the cache holds x (`cache = x`) and the backward uses the output's formula on
# it, `dx = dout * cache * (1 - cache)`.
class SigmoidGradFromInput(PlainSigmoid):
    def derivative(self) -> np.ndarray:
        return self._x * (1.0 - self._x)


# Real code: `np.exp(x) / (1 + np.exp(x))`, which gives inf / inf = nan once exp(x)
# overflows (x > 709.78).
class SigmoidForwardOverflow(PlainSigmoid):
    def activate(self, x: np.ndarray) -> np.ndarray:
        return np.exp(x) / (1.0 + np.exp(x))


# Real code: the derivative written out, `np.exp(-x) / (1 + np.exp(-x)) ** 2`, which gives
# inf / inf = nan at large negative x.
class SigmoidGradOverflow(PlainSigmoid):
    def derivative(self) -> np.ndarray:
        return np.exp(-self._x) / (1.0 + np.exp(-self._x)) ** 2


class PlainTanh(Tanh):
    """tanh from ``naive``: ``activate``, ``derivative`` from the output, ``1 - y^2``."""

    def activate(self, x: np.ndarray) -> np.ndarray:
        return naive.tanh_forward(x)

    def derivative(self) -> np.ndarray:
        return 1.0 - self._y * self._y

    def forward(self, x: np.ndarray) -> np.ndarray:
        self._x, self._y = x, self.activate(x)
        return self._y

    def backward(self, grad_y: np.ndarray) -> np.ndarray:
        return grad_y * self.derivative()


# Real code: `cache = x` in the forward and `dx = dout * (1 - cache ** 2)` in the backward,
# the output's formula on the input.
class TanhGradFromInput(PlainTanh):
    def derivative(self) -> np.ndarray:
        return 1.0 - self._x * self._x


# Real code: tanh from its definition, `(np.exp(x) - np.exp(-x)) / (np.exp(x) +
# np.exp(-x))`: inf / inf = nan once exp(|x|) overflows.
class TanhOverflow(PlainTanh):
    def activate(self, x: np.ndarray) -> np.ndarray:
        return (np.exp(x) - np.exp(-x)) / (np.exp(x) + np.exp(-x))


# Real code: the square dropped, `dx = dout * (1 - out)`.
class TanhGradNotSquared(PlainTanh):
    def derivative(self) -> np.ndarray:
        return 1.0 - self._y


class PlainLeakyReLU(LeakyReLU):
    """The leaky ReLU from ``naive``: ``slope`` (the constructor's ``negative_slope``),
    ``derivative`` 1 for ``x > 0`` and the slope otherwise (at 0 too, as PyTorch)."""

    def slope(self) -> float:
        return self.negative_slope

    def derivative(self) -> np.ndarray:
        return np.where(self._x > 0, 1.0, self.slope())

    def forward(self, x: np.ndarray) -> np.ndarray:
        self._x = x
        return naive.leaky_relu_forward(x, self.slope())

    def backward(self, grad_y: np.ndarray) -> np.ndarray:
        return grad_y * self.derivative()


# Real code: `np.where(x >= 0, 1, alpha)`: the derivative at exactly 0 is 1; PyTorch's is
# the slope.
class LeakyGradOneAtZero(PlainLeakyReLU):
    def derivative(self) -> np.ndarray:
        return np.where(self._x >= 0, 1.0, self.slope())


# Real code: `np.where(x > 0, x, slope)` as the derivative: the forward's formula copied,
# so positive inputs pass x times their gradient instead of 1 times.
class LeakyGradInputAsDerivative(PlainLeakyReLU):
    def derivative(self) -> np.ndarray:
        return np.where(self._x > 0, self._x, self.slope())


# Real code: `np.maximum(0.01 * x, x)` and `np.where(x > 0, 1, 0.01)`: the slope written
# in, whatever the layer was built with.
class LeakySlopeIgnored(PlainLeakyReLU):
    def slope(self) -> float:
        return 0.01


SIGMOID = Catalogue(
    "sigmoid", PlainSigmoid, "layer check",
    shows_on=("large |x|",),
    quantities=("output", "grad input"),
    mistakes=(
    Mistake(
        "sigmoid-grad-from-input", "sigmoid",
        "The backward pass computes the derivative y(1-y) from the input x, as x(1-x).",
        None, SigmoidGradFromInput, "grad input"),
    Mistake(
        "sigmoid-forward-overflow", "sigmoid",
        "The sigmoid is computed as exp(x)/(1+exp(x)), which is nan once exp(x) "
        "overflows (x > 709.78).",
        None, SigmoidForwardOverflow, "output", "large |x|"),
    Mistake(
        "sigmoid-grad-overflow", "sigmoid",
        "The derivative is computed as exp(-x)/(1+exp(-x))^2, which is nan at large "
        "negative x; y(1-y) from the output never overflows.",
        None, SigmoidGradOverflow, "grad input", "large |x|"),
))

TANH = Catalogue(
    "tanh", PlainTanh, "layer check",
    shows_on=("large |x|",),
    quantities=("output", "grad input"),
    mistakes=(
    Mistake(
        "tanh-grad-from-input", "tanh",
        "The backward pass computes the derivative 1-y^2 from the input x, as 1-x^2.",
        None, TanhGradFromInput, "grad input"),
    Mistake(
        "tanh-overflow", "tanh",
        "tanh is computed from its definition with exponentials, which is nan once "
        "exp(|x|) overflows; np.tanh saturates at +-1.",
        None, TanhOverflow, "output", "large |x|"),
    Mistake(
        "tanh-grad-not-squared", "tanh",
        "The derivative is 1-y instead of 1-y^2.",
        None, TanhGradNotSquared, "grad input"),
))

LEAKY_RELU = Catalogue(
    "leaky-relu", PlainLeakyReLU, "layer check",
    shows_on=("exact zeros", "slope 0.2"),
    quantities=("output", "grad input"),
    mistakes=(
    Mistake(
        "leaky-relu-grad-one-at-zero", "leaky-relu",
        "The derivative at exactly 0 is 1, where PyTorch's is the negative slope.",
        None, LeakyGradOneAtZero, "grad input", "exact zeros"),
    Mistake(
        "leaky-relu-grad-input-as-derivative", "leaky-relu",
        "The derivative on the positive side is x (the forward's formula copied) "
        "instead of 1.",
        None, LeakyGradInputAsDerivative, "grad input"),
    Mistake(
        "leaky-relu-slope-ignored", "leaky-relu",
        "The slope 0.01 is written in: the layer's negative_slope is ignored.",
        None, LeakySlopeIgnored, "output", "slope 0.2"),
))
