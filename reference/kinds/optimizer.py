"""What the optimizer kinds (``sgd``, ``adam``, ``rmsprop``) share: the parameters an
optimizer is checked on, the procedure that steps it beside ``torch.optim``, their
conditions and CS231n's update rules as an optimizer.

An optimizer is built as scratchnet's are (``scratchnet.optim``): ``Optimizer(net, lr=...,
...)``, where ``net`` has ``named_params()`` and ``named_grads()``, dicts of the network's
arrays; each ``step()`` updates the parameter arrays in place from the gradient arrays. A
configuration is the constructor's hyperparameters and a set of parameter arrays (several
tensors of odd shapes, float64); its data are their starting values and a fresh random
gradient for every step. The quantities are the parameters (all of them, flattened in
order) after the steps ``STEPS``, compared with ``torch.optim`` run from the same values on
the same gradients.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import torch

from reference.guard import USER_ERRORS, ProtocolError, as_array, unpack
from reference.kinds.data import Data, non_contiguous
from reference.kinds.kind import NON_CONTIGUOUS, Condition, Configuration, Kind, negate
from reference.kinds.record import Run

#: The steps after which the parameters are compared. Step 1 is the first, special step
#: (torch starts SGD's momentum buffer at the gradient itself; Adam's bias corrections
#: are largest); step 2 is the first that reads a kept buffer (velocity, cache, moments)
#: and dampens the gradient; by step 10 the running averages are half built (Adam's
#: ``1 - 0.9^10 = 0.65``); at step 50 the first moment's correction has nearly gone
#: (``1 - 0.9^50 = 0.995``) while the second's still divides by ``1 - 0.999^50 = 0.049``,
#: so a mistake in one correction only shows apart from one in the other, and
#: AMSGrad's maximum has had shrinking gradients to hold against.
STEPS = (1, 2, 10, 50)

#: The parameters a configuration has unless it says otherwise: a small convolution and
#: a dense layer, 38 numbers in four tensors of odd shapes.
SHAPES = {"conv.weight": (2, 1, 3, 3), "conv.bias": (2,), "fc.weight": (3, 5),
          "fc.bias": (3,)}

#: How the gradients are drawn, per step ``t``: a standard normal array times this scale.
GRADIENTS: dict[str, Callable[[int], float]] = {
    "normal": lambda t: 1.0,
    "shrinking": lambda t: 0.85 ** (t - 1),    # the second moment falls: AMSGrad's max holds
    "tiny": lambda t: 1e-6,                    # as small as a default eps (1e-8) matters
}


class Parameters:
    """The battery's network as an optimizer sees one (``scratchnet.optim.HasParams``):
    float64 parameter arrays and their gradients by name, the same arrays at every call.

    Attributes:
        params: name -> parameter array (non-contiguous views when built so: every other
            column of a wider array).
        grads: name -> gradient array, shaped as its parameter.
    """

    def __init__(self, shapes: dict[str, tuple[int, ...]], contiguous: bool = True) -> None:
        self.params = {name: np.zeros(shape) if contiguous else non_contiguous(np.zeros(shape))
                       for name, shape in shapes.items()}
        self.grads = {name: np.zeros(shape) for name, shape in shapes.items()}

    def named_params(self) -> dict[str, np.ndarray]:
        return dict(self.params)

    def named_grads(self) -> dict[str, np.ndarray]:
        return dict(self.grads)

    def load(self, arrays: dict[str, np.ndarray], into: dict[str, np.ndarray]) -> None:
        """Copy ``arrays`` into ``into`` (``params`` or ``grads``) in place."""
        for name, value in arrays.items():
            into[name][...] = value

    def flat(self) -> np.ndarray:
        """All parameters, flattened one after the other (a copy)."""
        return np.concatenate([p.ravel() for p in self.params.values()])


@dataclass
class OptimizerData(Data):
    """A configuration's data for an optimizer: ``x`` is the starting parameters,
    flattened (what the conditions see).

    Attributes:
        net: the configuration's ``Parameters``, which every optimizer is built on.
        start: name -> the parameters' starting values.
        gradients: per step, name -> that step's gradient.
    """

    net: Parameters | None = None
    start: dict[str, np.ndarray] = field(default_factory=dict)
    gradients: list[dict[str, np.ndarray]] = field(default_factory=list)


def quantity(t: int) -> str:
    return f"parameters after step {t}"


class OptimizerProcedure:
    """An optimizer: ``step()`` after each step's gradients are written into the net's
    gradient arrays; the parameters after ``STEPS`` against ``torch_optimizer``'s."""

    methods: tuple[str, ...] = ("step",)
    protocol = ("a constructor (net, lr=..., ...) and step(), which updates the arrays of "
                "net.named_params() in place from those of net.named_grads() (see "
                "scratchnet.optim.HasParams)")

    def __init__(self, torch_optimizer: Callable[..., torch.optim.Optimizer]) -> None:
        self.torch_optimizer = torch_optimizer

    def where(self, kind: Kind, q: str) -> str:
        return "the update step() makes"

    def reference(self, kind: Kind, config: Configuration,
                  rng: np.random.Generator) -> tuple[OptimizerData, dict[str, np.ndarray]]:
        """Starting parameters and ``STEPS[-1]`` steps' gradients drawn from ``rng``, and
        ``torch.optim``'s parameters after each of ``STEPS`` on them."""
        net: Parameters = config.args[0]
        start = {name: rng.standard_normal(p.shape) for name, p in net.params.items()}
        scale = GRADIENTS[config.settings["gradients"]]
        gradients = [{name: scale(t) * rng.standard_normal(p.shape)
                      for name, p in net.params.items()} for t in range(1, STEPS[-1] + 1)]
        data = OptimizerData(np.concatenate([v.ravel() for v in start.values()]), None, {},
                             net=net, start=start, gradients=gradients)
        tensors = [torch.tensor(v, requires_grad=True) for v in start.values()]
        optimizer = self.torch_optimizer(tensors, **config.options)
        quantities = {}
        for t, grads in enumerate(gradients, 1):
            for tensor, g in zip(tensors, grads.values(), strict=True):
                tensor.grad = torch.from_numpy(g.copy())
            optimizer.step()
            if t in STEPS:
                quantities[quantity(t)] = torch.cat(
                    [tensor.detach().ravel() for tensor in tensors]).numpy()
        return data, quantities

    def run(self, optimizer: Any, data: Data, quantities: list[str], run: Run,
            contiguous: bool, finite_differences: bool, thorough: bool) -> None:
        """Step ``optimizer`` (built on ``data.net``) through ``data.gradients`` from
        ``data.start`` and record the parameters after the steps ``quantities`` name;
        (``thorough``) whether a step changes the gradient arrays it reads. The net is
        left at its starting values, for the next optimizer built on it."""
        assert isinstance(data, OptimizerData) and data.net is not None
        net = data.net
        net.load(data.start, net.params)
        try:
            for t, grads in enumerate(data.gradients, 1):
                net.load(grads, net.grads)
                try:
                    optimizer.step()
                except USER_ERRORS as err:
                    run.stop(quantities, "step", err)
                    return
                if thorough and t == 1 and any(not np.array_equal(net.grads[name], g)
                                               for name, g in grads.items()):
                    run.warnings.append("step changes the gradient arrays of named_grads() "
                                        "in place: code reading them after the step "
                                        "(clipping, logging) sees other numbers")
                if quantity(t) in quantities:
                    run.values[quantity(t)] = net.flat()
            if all(np.array_equal(value, data.x) for value in run.values.values()):
                # Never a step: a rule that is wrong only at first (momentum taken after
                # the step) moves the parameters later; one that rebinds them never does.
                run.values.clear()
                run.error, run.protocol = ("step() left the parameters as they were: it "
                                           "must update the arrays net.named_params() "
                                           "gives in place (p -= ..., not p = p - ...)"), True
                run.fail(quantities, run.error)
        finally:
            net.load(data.start, net.params)


def configuration(name: str, options: dict[str, Any],
                  shapes: dict[str, tuple[int, ...]] | None = None,
                  gradients: str = "normal", contiguous: bool = True) -> Configuration:
    """An optimizer built with the keyword arguments ``options`` (those it needs beyond
    the defaults: a class is checked in every configuration whose keywords it takes) on
    parameters of ``shapes`` (``SHAPES`` unless given), with gradients drawn as
    ``gradients`` (``GRADIENTS``)."""
    shapes = SHAPES if shapes is None else shapes
    net = Parameters(shapes, contiguous)
    sizes = ", ".join("x".join(map(str, s)) for s in shapes.values())
    words = ", ".join(f"{k} {v}" for k, v in options.items())
    tensors = f"{len(shapes)} tensor{'s' * (len(shapes) > 1)} ({sizes})"
    summary = (f"{words}; {tensors}{'' if contiguous else ' non-contiguous'}, {gradients} "
               f"gradients, {STEPS[-1]} steps")
    return Configuration(name, (net,), dict(options), (sum(p.size for p in net.params.values()),),
                         contiguous=contiguous, settings={**options, "gradients": gradients},
                         summary=summary)


def random_shapes(r: Callable[[int, int], int]) -> dict[str, tuple[int, ...]]:
    """One to three tensors of one to three axes, each 1 to 4 long."""
    return {f"p{i}": tuple(r(1, 4) for _ in range(r(1, 3))) for i in range(r(1, 3))}


def has(option: str) -> Callable[[Configuration, np.ndarray], bool]:
    """The predicate "``option`` is set (not 0, False or absent)"."""
    return lambda c, x: bool(c.settings.get(option))


def gradients(draw: str) -> Callable[[Configuration, np.ndarray], bool]:
    return lambda c, x: c.settings["gradients"] == draw


def both(words: str, option: str) -> tuple[Condition, Condition]:
    """``option`` set and not, in words completing "only with ..."."""
    return (words, has(option)), (f"no {words}", negate(has(option)))


SHARED: tuple[Condition, ...] = (
    *both("weight decay", "weight_decay"),
    ("gradients shrinking from step to step", gradients("shrinking")),
    ("gradients as small as eps (1e-6)", gradients("tiny")),
    ("one tensor", lambda c, x: len(c.args[0].params) == 1),
    ("non-contiguous parameters", NON_CONTIGUOUS[1]),
)


class UpdateRule:
    """An optimizer calling one of CS231n's update rules, ``rule(w, dw, config) ->
    (next_w, config)``, on each parameter in turn, with one config per parameter, as
    CS231n's ``Solver`` keeps them: each starts as a copy of the hyperparameters alone
    (the rule's own ``setdefault`` calls start its state), and the config a call returns
    is the one the next call gets. The rule gets copies of ``w`` and ``dw``; ``next_w`` is
    written into the parameter."""

    def __init__(self, net: Any, rule: Callable, name: str,
                 hyperparameters: dict[str, Any]) -> None:
        self.net, self.rule, self.name = net, rule, name
        self.configs = {key: dict(hyperparameters) for key in net.named_params()}

    def step(self) -> None:
        grads = self.net.named_grads()
        for key, w in self.net.named_params().items():
            next_w, config = unpack(self.rule(w.copy(), grads[key].copy(), self.configs[key]),
                                    ("next_w", "config"), self.name)
            next_w = as_array(next_w, self.name, "next_w, an array shaped as w")
            if next_w.shape != w.shape:
                raise ProtocolError(f"{self.name} returned next_w of shape {next_w.shape}, "
                                    f"expected w's {w.shape}")
            if not isinstance(config, dict):
                raise ProtocolError(f"{self.name} returned a config that is "
                                    f"{type(config).__name__}: it must return the dict")
            w[...] = next_w
            self.configs[key] = config


__all__ = ["GRADIENTS", "SHAPES", "SHARED", "STEPS", "OptimizerData", "OptimizerProcedure",
           "Parameters", "UpdateRule", "both", "configuration", "has", "random_shapes"]
