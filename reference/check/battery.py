"""The battery: the configurations a layer of each kind is checked in, and their data.

A configuration is a layer's constructor arguments and the input it gets. Every kind has a
fixed list of *named* configurations, the plainest one and one for each thing a mistake
may need before it shows (a second example, a stride, padding, an untied bias, ties, zero
backgrounds, exact zeros, large and equal logits, odd sizes, a non-contiguous input, ...),
followed by random ones drawn from a seed. Everything is float64, so a right layer agrees
with PyTorch to about 1e-15 and the project's tolerance (1e-12) sees any real mistake.

A configuration passes a class only the keyword arguments it needs (``stride`` only when
it is not 1, ``bias`` only when it is not tied, ...): a class without them is still checked
in every configuration it can take.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from scratchnet import Conv2D, Dense, MaxPool2D, ReLU

#: The kinds ``check_layer`` checks, and scratchnet's class of each (its twin is PyTorch's).
CHECKED_KINDS = ("conv2d", "maxpool2d", "dense", "relu", "softmax-ce")
SCRATCHNET = {"conv2d": Conv2D, "maxpool2d": MaxPool2D, "dense": Dense, "relu": ReLU}

#: Random configurations drawn after the named ones, by default.
RANDOM_CONFIGURATIONS = 8


@dataclass(frozen=True)
class Configuration:
    """One configuration of a kind.

    Attributes:
        name: what it is, e.g. ``"stride > 1"`` or ``"random 3"``.
        args: the leading constructor arguments, as scratchnet's class takes them.
        options: the keyword arguments it needs beyond them (``stride``, ``padding``,
            ``bias``, ``input_shape``): a class must take them to be checked here.
        shape: the input's shape (``(N, C, H, W)``, ``(N, in)``, or logits ``(N, K)``).
        draw: how the input is drawn: ``"normal"`` (away from 0), ``"distinct"`` (values
            well apart: no ties), ``"ties"``, ``"zero background"``, ``"exact zeros"``,
            ``"sure and wrong"``, ``"equal"``, ``"shifted"`` (see ``draw_input``).
        contiguous: False gives the layer a non-contiguous view of the input.
        settings: the layer's hyperparameters (channels, kernel, stride, padding, bias,
            features), for ``describe`` and the ``CONDITIONS`` below.
    """

    name: str
    args: tuple
    options: dict[str, Any]
    shape: tuple[int, ...]
    draw: str = "normal"
    contiguous: bool = True
    settings: dict[str, Any] = field(default_factory=dict)

    @property
    def differentiable(self) -> bool:
        """Whether finite differences see the gradient: not at ties of a maximum nor at
        a ReLU's exact zeros, where the function has no derivative (PyTorch picks one)."""
        return self.draw not in ("ties", "zero background", "exact zeros")

    def describe(self) -> str:
        """The configuration in a few words, e.g. ``"N=2, 2->3 channels, 3x3 kernel, ..."``."""
        s, shape = self.settings, self.shape
        parts = [f"N={shape[0]}"]
        if "kernel" in s and "out_channels" in s:
            parts += [f"{s['in_channels']}->{s['out_channels']} channels",
                      f"{s['kernel']}x{s['kernel']} kernel", f"stride {s['stride']}",
                      f"padding {s['padding']}", f"{shape[2]}x{shape[3]} input",
                      f"{s['bias'] or 'no'} bias"]
        elif "kernel" in s:
            parts += [f"{shape[1]} channels", f"{s['kernel']}x{s['kernel']} windows",
                      f"stride {s['stride']}", f"{shape[2]}x{shape[3]} input"]
        elif "in_features" in s:
            parts += [f"{s['in_features']}->{s['out_features']} features"]
        else:
            parts += ["shape " + "x".join(map(str, shape))]
        parts.append(self.draw if self.draw != "normal" else "normal values")
        if not self.contiguous:
            parts.append("non-contiguous")
        return ", ".join(parts)


def conv(name: str, n: int, c_in: int, c_out: int, k: int, stride: int, padding: int,
         h: int, w: int, bias: str | None, contiguous: bool = True) -> Configuration:
    options: dict[str, Any] = {}
    if stride != 1:
        options["stride"] = stride
    if padding != 0:
        options["padding"] = padding
    if bias != "tied":                               # scratchnet's (and PyTorch's) default
        options["bias"] = bias
    if bias == "untied":                             # its size depends on the input's
        options["input_shape"] = (c_in, h, w)
    settings = {"in_channels": c_in, "out_channels": c_out, "kernel": k, "stride": stride,
                "padding": padding, "bias": bias}
    return Configuration(name, (c_in, c_out, k), options, (n, c_in, h, w),
                         contiguous=contiguous, settings=settings)


def pool(name: str, k: int, stride: int | None, shape: tuple[int, int, int, int],
         draw: str = "distinct", contiguous: bool = True) -> Configuration:
    options = {} if stride is None else {"stride": stride}
    settings = {"kernel": k, "stride": k if stride is None else stride}
    return Configuration(name, (k,), options, shape, draw, contiguous, settings)


def dense(name: str, n: int, n_in: int, n_out: int, contiguous: bool = True) -> Configuration:
    return Configuration(name, (n_in, n_out), {}, (n, n_in), contiguous=contiguous,
                         settings={"in_features": n_in, "out_features": n_out})


def relu(name: str, shape: tuple[int, ...], draw: str = "normal",
         contiguous: bool = True) -> Configuration:
    return Configuration(name, (), {}, shape, draw, contiguous)


def loss(name: str, n: int, k: int, draw: str = "normal") -> Configuration:
    return Configuration(name, (), {}, (n, k), draw)


NAMED: dict[str, list[Configuration]] = {
    "conv2d": [
        conv("the plainest", 1, 2, 3, 3, 1, 0, 6, 6, "tied"),
        conv("batch > 1", 4, 2, 3, 3, 1, 0, 6, 6, "tied"),
        conv("stride > 1", 2, 2, 3, 3, 2, 0, 8, 7, "tied"),       # 8: a row left over
        conv("padding > 0", 2, 2, 3, 3, 1, 1, 6, 5, "tied"),
        conv("untied bias", 1, 2, 3, 3, 1, 0, 6, 6, "untied"),
        conv("untied bias, batch > 1", 3, 1, 2, 3, 1, 0, 7, 6, "untied"),
        conv("no bias, even kernel", 2, 3, 2, 2, 1, 0, 5, 5, None),
        conv("as many channels in as out", 2, 3, 3, 3, 1, 0, 5, 6, "tied"),
        conv("1x1 kernel", 2, 3, 2, 1, 1, 0, 4, 5, "tied"),
        conv("kernel as large as the input", 2, 2, 3, 5, 1, 0, 5, 5, "tied"),
        conv("non-contiguous input", 3, 2, 3, 3, 1, 0, 6, 6, "tied", contiguous=False),
        conv("stride, padding and untied bias", 3, 3, 2, 4, 3, 2, 9, 6, "untied"),
    ],
    "maxpool2d": [
        pool("the plainest", 2, None, (1, 2, 4, 4)),
        pool("ties", 2, None, (1, 2, 4, 4), "ties"),
        pool("zero background", 2, None, (2, 3, 8, 8), "zero background"),
        pool("overlapping windows", 3, 1, (1, 2, 5, 5)),
        pool("overlapping ties", 3, 2, (2, 3, 7, 8), "ties"),
        pool("odd size", 2, None, (1, 2, 7, 9)),
        pool("stride beyond the window", 2, 3, (2, 1, 11, 10)),
        pool("batch > 1", 2, None, (4, 2, 6, 6)),
        pool("3x3 windows", 3, None, (2, 2, 9, 9)),
        pool("non-contiguous input", 2, None, (3, 2, 6, 6), contiguous=False),
    ],
    "dense": [
        dense("the plainest", 1, 4, 3),
        dense("batch > 1", 5, 4, 3),
        dense("square", 3, 4, 4),
        dense("the seed's fc2", 4, 128, 10),
        dense("one feature", 2, 1, 1),
        dense("non-contiguous input", 4, 5, 3, contiguous=False),
    ],
    "relu": [
        relu("the plainest", (3, 5)),
        relu("exact zeros", (2, 6), "exact zeros"),
        relu("exact zeros, 4-D", (2, 3, 4, 5), "exact zeros"),
        relu("4-D input", (2, 3, 4, 5)),
        relu("one example", (1, 7)),
        relu("non-contiguous input", (4, 6), contiguous=False),
    ],
    "softmax-ce": [
        loss("the plainest", 1, 5),
        loss("batch > 1", 6, 5),
        loss("large logits", 3, 5, "sure and wrong"),
        loss("equal logits", 4, 5, "equal"),
        loss("shifted logits", 3, 4, "shifted"),
        loss("two classes", 5, 2),
    ],
}


def random_configuration(kind: str, i: int, rng: np.random.Generator) -> Configuration:
    """The ``i``-th random configuration of ``kind``: sizes, strides, padding and inputs
    drawn from ``rng`` (small, so a plain loop implementation stays fast)."""
    name = f"random {i}"

    def r(low: int, high: int) -> int:
        return int(rng.integers(low, high + 1))

    if kind == "conv2d":
        k = r(1, 4)
        padding = r(0, min(2, k - 1))                  # PyTorch needs padding < kernel
        low = max(1, k - 2 * padding)
        bias = ["tied", "untied", None][r(0, 2)]
        return conv(name, r(1, 4), r(1, 3), r(1, 3), k, r(1, 3), padding, r(low, low + 6),
                    r(low, low + 6), bias, contiguous=bool(r(0, 3)))
    if kind == "maxpool2d":
        k = r(1, 4)
        stride = r(1, 4)
        shape = (r(1, 4), r(1, 3), r(k, k + 8), r(k, k + 8))
        return pool(name, k, None if stride == k else stride, shape,
                    ["distinct", "ties"][r(0, 1)], contiguous=bool(r(0, 3)))
    if kind == "dense":
        return dense(name, r(1, 6), r(1, 12), r(1, 12), contiguous=bool(r(0, 3)))
    if kind == "relu":
        shape = tuple(r(1, 5) for _ in range(r(2, 4)))
        return relu(name, shape, ["normal", "exact zeros"][r(0, 1)], contiguous=bool(r(0, 3)))
    return loss(name, r(1, 8), r(2, 10))


def battery(kind: str, random_configurations: int = RANDOM_CONFIGURATIONS,
            seed: int = 0) -> list[Configuration]:
    """The named configurations of ``kind`` and ``random_configurations`` random ones."""
    if kind not in CHECKED_KINDS:
        raise ValueError(f"check_layer: kind must be one of {', '.join(CHECKED_KINDS)}, "
                         f"got {kind!r}")
    rng = np.random.default_rng([seed, CHECKED_KINDS.index(kind)])
    return [*NAMED[kind],
            *(random_configuration(kind, i + 1, rng) for i in range(random_configurations))]


# ---- the data of a configuration ------------------------------------------------------

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
    """

    x: np.ndarray
    labels: np.ndarray | None
    weights: dict[str, np.ndarray]
    grad_y: np.ndarray | None = None
    directions: dict[str, np.ndarray] = field(default_factory=dict)


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
    }
    x = draws[config.draw]()
    return x if config.contiguous else non_contiguous(x)


def non_contiguous(x: np.ndarray) -> np.ndarray:
    """A copy of ``x`` that is a strided view: every other column of a wider array."""
    spread = np.zeros((*x.shape[:-1], 2 * x.shape[-1]))
    spread[..., ::2] = x
    return spread[..., ::2]


def draw_data(kind: str, config: Configuration, rng: np.random.Generator,
              weight_shapes: dict[str, tuple[int, ...]]) -> Data:
    """The input, labels (for the loss) and weights of ``config``; its upstream gradient and
    directions are drawn once PyTorch's output shape is known (``draw_gradients``)."""
    x = draw_input(config, rng)
    labels = None
    if kind == "softmax-ce":
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
