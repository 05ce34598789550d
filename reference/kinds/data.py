"""The data a configuration is checked on: its input (drawn as the configuration says),
the loss's labels, the weights, the upstream gradient and the directions finite
differences take. Every implementation of a configuration gets the same ``Data``."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np

from reference.kinds.kind import Configuration, Kind


@dataclass
class Data:
    """What a configuration's check feeds every implementation alike.

    Attributes:
        x: the input (for the loss: the logits), float64, as the layer gets it.
        labels: the loss's integer labels (None for a layer).
        weights: the parameters to set, keyed and shaped as PyTorch's.
        grad_y: the upstream gradient, standard normal, shaped as PyTorch's output.
        directions: per gradient quantity, the random direction finite differences
            perturb the input or the parameter along.
        extra: further arrays a kind's procedure feeds after ``x``, by name (a batch
            norm's later training batches, its eval batch and that batch's upstream
            gradient).
        convention_offsets: per convention a style may keep (a kind's procedure names
            them), quantity -> its expected value under PyTorch's convention less its
            expected value under that one. The procedure adds it to the value of an
            implementation that declares the convention, so the check compares that
            implementation with what its own convention expects (the error it reports is
            the error against that expected value).
    """

    x: np.ndarray
    labels: np.ndarray | None
    weights: dict[str, np.ndarray]
    grad_y: np.ndarray | None = None
    directions: dict[str, np.ndarray] = field(default_factory=dict)
    extra: dict[str, np.ndarray] = field(default_factory=dict)
    convention_offsets: dict[str, dict[str, np.ndarray]] = field(default_factory=dict)


#: The mean of the ``"large mean, tiny variance"`` draw.
OFFSET = 1e4


def draw_input(config: Configuration, rng: np.random.Generator) -> np.ndarray:
    """The input of ``config`` (see ``Configuration.draw``), as a non-contiguous view of
    the same values when ``config.contiguous`` is False."""
    shape, n = config.shape, int(np.prod(config.shape))

    def away() -> np.ndarray:                             # |x| >= 0.01: no zeros, no kinks
        return np.sign(rng.standard_normal(shape)) * (0.01 + np.abs(rng.standard_normal(shape)))

    draws: dict[str, Callable[[], np.ndarray]] = {
        "normal": away,                                   # no exact zeros, no ties
        "distinct": lambda: ((rng.permutation(n) + rng.uniform(0.1, 0.9, n) - n / 2)
                             / np.sqrt(n)).reshape(shape),  # >= 0.2/sqrt(n) apart
        "ties": lambda: rng.choice([0.0, 0.0, 0.0, 1.0, 2.0, -1.0], size=shape),
        "zero background": lambda: np.where(rng.random(shape) < 0.2, rng.random(shape), 0.0),
        "exact zeros": lambda: np.where(rng.random(shape) < 0.4,
                                        rng.choice([0.0, -0.0], size=shape), away()),
        "sure and wrong": lambda: np.eye(shape[1])[rng.integers(0, shape[1], shape[0])]
        * 2e3 - 1e3,                                      # one class 2000 above the rest
        "equal": lambda: np.full(shape, 7.5),
        "shifted": lambda: rng.standard_normal(shape) + 800.0,   # exp(800) overflows
        # OFFSET + k 2^-20, |k| <= 200: a mean of 1e4 and a variance near 1e-8, on a grid
        # where every sum of up to 2^19 values, every difference of two values and every
        # square of one is exact in float64; with a power of two values per mean, the mean
        # and the (biased) variance are exact too, so a right normalisation loses nothing
        # to the data (and one-pass E[x^2] - E[x]^2 loses everything).
        "large mean, tiny variance": lambda: OFFSET + rng.integers(-200, 201, shape) * 2.0**-20,
    }
    x = draws[config.draw]()
    return x if config.contiguous else non_contiguous(x)


def non_contiguous(x: np.ndarray) -> np.ndarray:
    """A copy of ``x`` that is a strided view: every other column of a wider array."""
    spread = np.zeros((*x.shape[:-1], 2 * x.shape[-1]))
    spread[..., ::2] = x
    return spread[..., ::2]


def draw_data(kind: Kind, config: Configuration, rng: np.random.Generator,
              weight_shapes: dict[str, tuple[int, ...]]) -> Data:
    """The input, labels (for the loss) and weights of ``config``; its upstream gradient and
    directions are drawn once PyTorch's output shape is known (``draw_gradients``)."""
    x = draw_input(config, rng)
    labels = None
    if kind.loss:
        n, k = config.shape
        labels = rng.integers(0, k, n)
        if config.draw == "sure and wrong":           # any class but the sure one
            labels = (x.argmax(axis=1) + rng.integers(1, k, n)) % k
    weights = {key: rng.standard_normal(shape) for key, shape in weight_shapes.items()}
    return Data(x, labels, weights)


def draw_gradients(data: Data, output_shape: tuple[int, ...] | None, input_quantity: str,
                   rng: np.random.Generator) -> None:
    """Draw ``data``'s upstream gradient (none for a loss: ``output_shape`` None) and a
    standard normal direction for the input (``input_quantity``: ``"grad input"`` or
    ``"grad logits"``) and for each parameter."""
    if output_shape is not None:
        data.grad_y = rng.standard_normal(output_shape)
    data.directions = {input_quantity: rng.standard_normal(data.x.shape)}
    for key, w in data.weights.items():
        data.directions[f"grad {key}"] = rng.standard_normal(w.shape)
