"""RMSprop with momentum, centering and weight decay, as ``torch.optim.RMSprop``: its
battery, its conditions and CS231n's ``rmsprop`` (the steps against torch.optim:
``reference.kinds.optimizer``)."""

from __future__ import annotations

from collections.abc import Callable

import torch

from reference.kinds.kind import Configuration, Draw, FunctionStyle, Kind
from reference.kinds.optimizer import (
    SHARED,
    OptimizerProcedure,
    UpdateRule,
    both,
    configuration,
    has,
    random_shapes,
)
from scratchnet.optim import RMSprop

NAMED = (
    configuration("the plainest", {"lr": 0.01}),
    configuration("momentum", {"lr": 0.01, "momentum": 0.9}),
    configuration("centered", {"lr": 0.01, "centered": True}),
    configuration("centered with momentum", {"lr": 0.01, "momentum": 0.5, "centered": True}),
    configuration("weight decay", {"lr": 0.01, "weight_decay": 0.05}),
    configuration("large eps", {"lr": 0.01, "eps": 0.1}),
    configuration("small alpha", {"lr": 0.01, "alpha": 0.5}, gradients="shrinking"),
    configuration("non-contiguous parameters", {"lr": 0.01, "momentum": 0.5},
                  contiguous=False),
)


def random_configuration(name: str, r: Draw) -> Configuration:
    options: dict = {"lr": (0.001, 0.01, 0.05)[r(0, 2)]}
    if r(0, 1):
        options["alpha"] = (0.9, 0.5)[r(0, 1)]
    if r(0, 1):
        options["eps"] = (1e-6, 1e-3)[r(0, 1)]
    if r(0, 1):
        options["momentum"] = (0.5, 0.9)[r(0, 1)]
    if r(0, 1):
        options["centered"] = True
    if r(0, 1):
        options["weight_decay"] = 0.01
    gradients = ("normal", "shrinking", "tiny")[r(0, 2)]
    return configuration(name, options, random_shapes(r), gradients, contiguous=bool(r(0, 3)))


CONDITIONS = (
    *both("momentum", "momentum"),
    *both("centering", "centered"),
    ("a large eps (1e-3 or more)", lambda c, x: c.settings.get("eps", 1e-8) >= 1e-3),
    ("an alpha other than 0.99", has("alpha")),
    *SHARED,
)


def cs231n_optimizer(rule: Callable, _: None, names: tuple[str, None]) -> type:
    class FunctionRMSprop(UpdateRule):
        """``rmsprop(w, dw, config) -> (next_w, config)``: ``'learning_rate'``,
        ``'decay_rate'``, ``'epsilon'``, and the state ``'cache'``."""

        def __init__(self, net, lr: float = 0.01, alpha: float = 0.99,
                     eps: float = 1e-8) -> None:
            super().__init__(net, rule, names[0], {"learning_rate": lr, "decay_rate": alpha,
                                                   "epsilon": eps})

    return FunctionRMSprop


FUNCTIONS = FunctionStyle(
    (("rmsprop", None),), cs231n_optimizer,
    ("one config per parameter, as CS231n's Solver keeps them, starting from the "
     "hyperparameters alone ('learning_rate', 'decay_rate' = torch's alpha, 'epsilon', "
     "added after the square root as torch adds it)",
     "it has no momentum, centering or weight decay: configurations with them are not its"))

KIND = Kind("rmsprop", RMSprop, NAMED, random_configuration, CONDITIONS, functions=FUNCTIONS,
            procedure=OptimizerProcedure(torch.optim.RMSprop))
