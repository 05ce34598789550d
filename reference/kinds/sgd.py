"""SGD with momentum, Nesterov momentum, dampening and weight decay, as
``torch.optim.SGD``: its battery, its conditions and CS231n's ``sgd`` and ``sgd_momentum``
(the steps against torch.optim: ``reference.kinds.optimizer``)."""

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
from scratchnet.optim import SGD

NAMED = (
    configuration("the plainest", {"lr": 0.1}),
    configuration("momentum", {"lr": 0.05, "momentum": 0.9}),
    configuration("nesterov", {"lr": 0.05, "momentum": 0.9, "nesterov": True}),
    configuration("dampening", {"lr": 0.05, "momentum": 0.9, "dampening": 0.3}),
    configuration("weight decay", {"lr": 0.1, "weight_decay": 0.05}),
    configuration("momentum and weight decay",
                  {"lr": 0.05, "momentum": 0.9, "weight_decay": 0.05}),
    configuration("one tensor", {"lr": 0.1, "momentum": 0.5}, {"w": (7,)}),
    configuration("non-contiguous parameters", {"lr": 0.05, "momentum": 0.9},
                  contiguous=False),
)


def random_configuration(name: str, r: Draw) -> Configuration:
    options: dict = {"lr": (0.01, 0.1, 0.3)[r(0, 2)]}
    momentum = (0.0, 0.5, 0.9)[r(0, 2)]
    if momentum:
        options["momentum"] = momentum
        extra = r(0, 2)                            # none, dampening or Nesterov
        if extra == 1:
            options["dampening"] = 0.2
        elif extra == 2:
            options["nesterov"] = True
    if r(0, 1):
        options["weight_decay"] = 0.01
    return configuration(name, options, random_shapes(r), contiguous=bool(r(0, 3)))


CONDITIONS = (
    *both("momentum", "momentum"),
    ("Nesterov momentum", has("nesterov")),
    ("dampening", has("dampening")),
    *SHARED,
)


def cs231n_optimizer(rule: Callable, _: None, names: tuple[str, None]) -> type:
    name = names[0]
    if name == "sgd":
        class FunctionSGD(UpdateRule):
            """``sgd(w, dw, config) -> (next_w, config)``: ``config['learning_rate']``."""

            def __init__(self, net, lr: float) -> None:
                super().__init__(net, rule, name, {"learning_rate": lr})

        return FunctionSGD

    class FunctionSGDMomentum(UpdateRule):
        """``sgd_momentum(w, dw, config) -> (next_w, config)``: ``'learning_rate'``,
        ``'momentum'``, and the state ``'velocity'``."""

        def __init__(self, net, lr: float, momentum: float = 0.0) -> None:
            super().__init__(net, rule, name, {"learning_rate": lr, "momentum": momentum})

    return FunctionSGDMomentum


FUNCTIONS = FunctionStyle(
    (("sgd_momentum", None), ("sgd", None)), cs231n_optimizer,
    ("one config per parameter, as CS231n's Solver keeps them, starting from the "
     "hyperparameters alone ('learning_rate', 'momentum')",
     "sgd_momentum's velocity (v = momentum * v - learning_rate * dw; w += v) is "
     "-learning_rate times torch.optim.SGD's momentum buffer: it is compared with "
     "SGD(lr, momentum) at a constant learning rate, where the two are the same",
     "it has no dampening, Nesterov momentum or weight decay: configurations with them are "
     "not its"))

KIND = Kind("sgd", SGD, NAMED, random_configuration, CONDITIONS, functions=FUNCTIONS,
            procedure=OptimizerProcedure(torch.optim.SGD))
