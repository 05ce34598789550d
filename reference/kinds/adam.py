"""Adam with L2 weight decay and AMSGrad, as ``torch.optim.Adam``: its battery, its
conditions and CS231n's ``adam`` (the steps against torch.optim:
``reference.kinds.optimizer``)."""

from __future__ import annotations

from collections.abc import Callable

import torch

from reference.kinds.kind import Configuration, Draw, FunctionStyle, Kind
from reference.kinds.optimizer import (
    SHARED,
    OptimizerProcedure,
    UpdateRule,
    configuration,
    has,
    random_shapes,
)
from scratchnet.optim import Adam

NAMED = (
    configuration("the plainest", {"lr": 0.01}),
    configuration("weight decay", {"lr": 0.01, "weight_decay": 0.05}),
    configuration("large eps", {"lr": 0.01, "eps": 0.1}),
    configuration("small gradients", {"lr": 0.01}, gradients="tiny"),
    configuration("amsgrad", {"lr": 0.01, "amsgrad": True}, gradients="shrinking"),
    configuration("small betas", {"lr": 0.05, "betas": (0.5, 0.6)}),
    configuration("non-contiguous parameters", {"lr": 0.01, "weight_decay": 0.01},
                  contiguous=False),
)


def random_configuration(name: str, r: Draw) -> Configuration:
    options: dict = {"lr": (0.001, 0.01, 0.1)[r(0, 2)]}
    if r(0, 1):
        options["betas"] = ((0.8, 0.99), (0.5, 0.9))[r(0, 1)]
    if r(0, 1):
        options["eps"] = (1e-6, 1e-3)[r(0, 1)]
    if r(0, 1):
        options["weight_decay"] = 0.01
    if r(0, 1):
        options["amsgrad"] = True
    gradients = ("normal", "shrinking", "tiny")[r(0, 2)]
    return configuration(name, options, random_shapes(r), gradients, contiguous=bool(r(0, 3)))


def large_eps(c: Configuration, x) -> bool:
    return c.settings.get("eps", 1e-8) >= 1e-3


CONDITIONS = (
    ("AMSGrad", has("amsgrad")),
    ("a large eps (1e-3 or more)", large_eps),
    ("betas other than (0.9, 0.999)", has("betas")),
    *SHARED,
)


def cs231n_optimizer(rule: Callable, _: None, names: tuple[str, None]) -> type:
    class FunctionAdam(UpdateRule):
        """``adam(w, dw, config) -> (next_w, config)``: ``'learning_rate'``, ``'beta1'``,
        ``'beta2'``, ``'epsilon'``, and the state ``'m'``, ``'v'``, ``'t'``."""

        def __init__(self, net, lr: float = 1e-3, betas: tuple[float, float] = (0.9, 0.999),
                     eps: float = 1e-8) -> None:
            super().__init__(net, rule, names[0], {"learning_rate": lr, "beta1": betas[0],
                                                   "beta2": betas[1], "epsilon": eps})

    return FunctionAdam


FUNCTIONS = FunctionStyle(
    (("adam", None),), cs231n_optimizer,
    ("one config per parameter, as CS231n's Solver keeps them, starting from the "
     "hyperparameters alone ('learning_rate', 'beta1', 'beta2', 'epsilon'): the rule's "
     "own defaults start 'm', 'v' and 't' (t = 0, incremented before the bias corrections "
     "use it, which is torch.optim.Adam's step count)",
     "it has no weight decay or AMSGrad: configurations with them are not its"))

KIND = Kind("adam", Adam, NAMED, random_configuration, CONDITIONS, functions=FUNCTIONS,
            procedure=OptimizerProcedure(torch.optim.Adam))
