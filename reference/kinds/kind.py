"""What a kind of layer is on the reference side: its battery, its conditions and its twin.

A *kind* (``"conv2d"``, ``"maxpool2d"``, ...) is one module of this package, holding
everything the checker and the twin know about it: scratchnet's class of the kind, the
PyTorch module that computes the same thing, the constructor arguments that rebuild a
layer of it, the configurations its battery checks it in (named ones, then random ones),
and the conditions a diagnosis names ("only with stride > 1"). ``reference.kinds``
registers every kind once; its catalogue of mistakes is ``reference/mistakes/<kind>.py``.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np


@dataclass(frozen=True)
class Configuration:
    """One configuration of a kind: a layer's constructor arguments and the input it gets.

    Attributes:
        name: what it is, e.g. ``"stride > 1"`` or ``"random 3"``.
        args: the leading constructor arguments, as scratchnet's class takes them.
        options: the keyword arguments it needs beyond them (``stride``, ``padding``,
            ``bias``, ``input_shape``): a class must take them to be checked here.
        shape: the input's shape (``(N, C, H, W)``, ``(N, in)``, or logits ``(N, K)``).
        draw: how the input is drawn: ``"normal"`` (away from 0), ``"distinct"`` (values
            well apart: no ties), ``"ties"``, ``"zero background"``, ``"exact zeros"``,
            ``"sure and wrong"``, ``"equal"``, ``"shifted"``, ``"large mean, tiny
            variance"`` (see ``reference.kinds.data.draw_input``).
        contiguous: False gives the layer a non-contiguous view of the input.
        settings: the layer's hyperparameters (channels, kernel, stride, padding, bias,
            features), for ``describe`` and the kind's conditions.
        summary: the configuration in a few words, when its kind says them itself (an
            optimizer's hyperparameters); ``describe`` gives it as it is.
    """

    name: str
    args: tuple
    options: dict[str, Any]
    shape: tuple[int, ...]
    draw: str = "normal"
    contiguous: bool = True
    settings: dict[str, Any] = field(default_factory=dict)
    summary: str = ""

    @property
    def differentiable(self) -> bool:
        """Whether finite differences see the gradient: not at ties of a maximum nor at
        a ReLU's exact zeros, where the function has no derivative (PyTorch picks one),
        nor on a large mean with a tiny variance, where a step scaled to the values
        (``fd_check``: 1e4) is far wider than their spread (1e-4)."""
        return self.draw not in ("ties", "zero background", "exact zeros",
                                 "large mean, tiny variance")

    def describe(self) -> str:
        """The configuration in a few words, e.g. ``"N=2, 2->3 channels, 3x3 kernel, ..."``."""
        if self.summary:
            return self.summary
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


@dataclass(frozen=True)
class FunctionStyle:
    """A kind's layer as CS231n hands it out: two functions, ``forward(x, ...) -> (out,
    cache)`` and ``backward(dout, cache) -> grads``, found in a file by their names.

    Attributes:
        pairs: the ``(forward, backward)`` names it is found by (``backward`` None when
            one function does both, as ``softmax_loss``).
        adapter: ``adapter(forward, backward, names) -> class``: the protocol class that
            calls the pair in its own conventions.
        conventions: where the style differs from PyTorch's, as the check assumes it.
    """

    pairs: tuple[tuple[str, str | None], ...]
    adapter: Callable[[Callable, Callable | None, tuple[str, str | None]], type]
    conventions: tuple[str, ...] = ()


#: A property of a configuration and its input: ``predicate(configuration, input)``.
Predicate = Callable[[Configuration, np.ndarray], bool]

#: ``(words, predicate)``: what a configuration has, in words completing "only with ...".
Condition = tuple[str, Predicate]

#: Draws a whole number from ``low`` to ``high`` (both included).
Draw = Callable[[int, int], int]


@dataclass(frozen=True)
class Kind:
    """Everything the reference side knows about one kind of layer (or loss, or
    optimizer).

    Attributes:
        name: the kind, e.g. ``"conv2d"``: a layer's ``kind`` attribute and
            ``scratchnet check --kind``.
        scratchnet: scratchnet's class of the kind; configurations are its constructor
            arguments, and other implementations are built the same way.
        named: the battery's named configurations: the plainest one and one for each
            thing a mistake may need before it shows.
        random: ``random(name, draw)``: a random configuration, its sizes drawn by
            ``draw(low, high)``.
        conditions: what sets configurations apart, both sides of each distinction, in
            the order a diagnosis tries them.
        twin: ``twin(layer, dtype) -> nn.Module``, PyTorch's module computing what a
            layer of the kind computes (read from its parameters' shapes and attributes);
            None for the loss, which is compared with ``F.cross_entropy``.
        rebuild: ``rebuild(layer, input_shape) -> (args, kwargs)``: the constructor
            arguments of scratchnet's class (or a catalogued variant) computing what the
            protocol layer ``layer`` computes on inputs of ``input_shape``.
        variant_options: what a catalogued variant needs beyond a configuration's
            options (a convolution's ``input_shape``, for an untied bias).
        loss: True for a loss: ``forward(logits, labels) -> float``, ``backward()``.
        functions: its CS231n function pairs and how to call them, if it has any.
        procedure: how its check runs (``reference.kinds.procedures``): PyTorch's
            quantities on a configuration and an implementation's on the same data; None
            for the plain layer's or loss's.
    """

    name: str
    scratchnet: type
    named: tuple[Configuration, ...]
    random: Callable[[str, Draw], Configuration]
    conditions: tuple[Condition, ...]
    twin: Callable[[Any, Any], Any] | None = None
    rebuild: Callable[[Any, tuple[int, ...]], tuple[tuple, dict[str, Any]]] = (
        lambda layer, input_shape: ((), {}))
    variant_options: Callable[[Configuration], dict[str, Any]] = lambda config: {}
    loss: bool = False
    functions: FunctionStyle | None = None
    procedure: Any = None

    @property
    def output_quantity(self) -> str:
        """The forward pass's quantity: ``"loss"`` for a loss, else ``"output"``."""
        return "loss" if self.loss else "output"

    @property
    def input_quantity(self) -> str:
        """The gradient ``backward`` returns: ``"grad logits"`` for a loss, else
        ``"grad input"``."""
        return "grad logits" if self.loss else "grad input"


# ---- conditions every kind may use ------------------------------------------------------

def batch_above_one(c: Configuration, x: np.ndarray) -> bool:
    return c.shape[0] > 1


def setting(name: str, test: Callable[[Any], bool]) -> Predicate:
    """The predicate ``test(configuration.settings[name])``."""
    return lambda c, x: test(c.settings[name])


def negate(pred: Predicate) -> Predicate:
    return lambda c, x: not pred(c, x)


def non_contiguous_input(c: Configuration, x: np.ndarray) -> bool:
    return not c.contiguous


def square_weight(c: Configuration, x: np.ndarray) -> bool:
    """As many channels (or features) in as out."""
    s = c.settings
    return s.get("in_channels", s.get("in_features")) == s.get("out_channels",
                                                                s.get("out_features"))


BATCH: tuple[Condition, ...] = (("batch > 1", batch_above_one),
                                ("a batch of one", negate(batch_above_one)))
NON_CONTIGUOUS: Condition = ("a non-contiguous input", non_contiguous_input)
