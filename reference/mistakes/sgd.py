"""Mistakes in SGD with momentum, and the plain SGD they are made in.

The seed trains with plain gradient descent and names no optimizer equations, so these
mistakes break torch.optim.SGD's documented algorithm (see ``scratchnet.optim.SGD``)
instead. The plain optimizer steps through ``_params_and_grads()``, as scratchnet's does:
on a ``Sequential`` that is the whole network's flat arrays at once, so a variant's one
method is what every training step runs.
"""

from __future__ import annotations

import numpy as np

from reference.mistakes.entry import Catalogue, Mistake
from scratchnet.optim import SGD


class PlainSGD(SGD):
    """SGD as torch.optim.SGD documents it, one method per step of the update."""

    def step(self) -> None:
        for p, g, buffers in self._params_and_grads():
            p -= self.lr * self.direction(p, g, buffers)
        self.steps += 1

    def direction(self, p: np.ndarray, g: np.ndarray, buffers: tuple) -> np.ndarray:
        g = self.with_weight_decay(p, g)
        if self.momentum == 0:
            return g
        (velocity,) = buffers
        self.accumulate(velocity, g)
        return self.nesterov_step(g, velocity)

    def with_weight_decay(self, p: np.ndarray, g: np.ndarray) -> np.ndarray:
        return g + self.weight_decay * p

    def accumulate(self, velocity: np.ndarray, g: np.ndarray) -> None:
        if self.steps == 0:
            velocity[...] = g                            # torch: the first step takes g itself
        else:
            velocity[...] = self.momentum * velocity + (1 - self.dampening) * g

    def nesterov_step(self, g: np.ndarray, velocity: np.ndarray) -> np.ndarray:
        return g + self.momentum * velocity if self.nesterov else velocity


class MomentumAfterStep(PlainSGD):
    def direction(self, p: np.ndarray, g: np.ndarray, buffers: tuple) -> np.ndarray:
        g = self.with_weight_decay(p, g)
        if self.momentum == 0:
            return g
        (velocity,) = buffers
        old = velocity.copy()
        self.accumulate(velocity, g)
        return old                                       # the velocity before this gradient


class WeightDecayAfterMomentum(PlainSGD):
    def direction(self, p: np.ndarray, g: np.ndarray, buffers: tuple) -> np.ndarray:
        if self.momentum == 0:
            return self.with_weight_decay(p, g)
        (velocity,) = buffers
        self.accumulate(velocity, g)                     # the gradient without the decay
        return self.with_weight_decay(p, self.nesterov_step(g, velocity))


class DampeningOnFirstStep(PlainSGD):
    def accumulate(self, velocity: np.ndarray, g: np.ndarray) -> None:
        velocity[...] = self.momentum * velocity + (1 - self.dampening) * g   # from zero


class VelocityNotKept(PlainSGD):
    # The pattern: the optimizer's state made inside step() (`state = {}`, or `buf =
    # None` before `if buf is None: buf = g.copy()`), so every step is the first one and
    # the velocity holds this step's gradient alone.
    def accumulate(self, velocity: np.ndarray, g: np.ndarray) -> None:
        velocity[...] = g


class NesterovIgnored(PlainSGD):
    # The pattern: a class that takes `nesterov=` (to match torch's signature) and
    # steps by the velocity whatever it says.
    def nesterov_step(self, g: np.ndarray, velocity: np.ndarray) -> np.ndarray:
        return velocity


class LearningRateTwice(PlainSGD):
    # The pattern: CS231n's velocity, which holds the learning rate (`v = mu * v + lr *
    # dw`), stepped by torch's rule, which multiplies by it again (`w -= lr * v`), with
    # or without momentum (no branch: `mu = 0` makes v this step's lr * dw).
    def direction(self, p: np.ndarray, g: np.ndarray, buffers: tuple) -> np.ndarray:
        g = self.with_weight_decay(p, g)
        if self.momentum == 0:
            return self.lr * g
        (velocity,) = buffers
        velocity[...] = self.momentum * velocity + self.lr * g
        return velocity


CATALOGUE = Catalogue(
    "sgd", PlainSGD, "optimizer check",
    ("momentum", "momentum and weight decay", "dampening", "nesterov"),
    ("parameters after step",), (
        Mistake(
            "sgd-momentum-after-step", "sgd",
            "The parameter moves by the old velocity, and only then is the velocity updated "
            "with this step's gradient.",
            None, MomentumAfterStep, "parameters after step 1", "momentum"),
        Mistake(
            "sgd-weight-decay-after-momentum", "sgd",
            "Weight decay is added to the step after the momentum buffer, so the buffer "
            "never sees it (PyTorch adds it to the gradient before).",
            None, WeightDecayAfterMomentum, "parameters after step 2",
            "momentum and weight decay"),
        Mistake(
            "sgd-dampening-first-step", "sgd",
            "The first step dampens the gradient too ((1 - dampening) * g), where PyTorch "
            "starts the momentum buffer at the gradient itself.",
            None, DampeningOnFirstStep, "parameters after step 1", "dampening"),
        Mistake(
            "sgd-velocity-not-kept", "sgd",
            "The velocity is made afresh at every step, so it holds this step's gradient "
            "alone: plain SGD, with no momentum.",
            None, VelocityNotKept, "parameters after step 2", "momentum"),
        Mistake(
            "sgd-nesterov-ignored", "sgd",
            "nesterov=True is taken and ignored: the step is the velocity, not the gradient "
            "plus momentum times the velocity.",
            None, NesterovIgnored, "parameters after step 1", "nesterov"),
        Mistake(
            "sgd-lr-applied-twice", "sgd",
            "The velocity accumulates lr * g (CS231n's velocity) and the step multiplies it "
            "by lr again (PyTorch's): every step is lr times too small.",
            None, LearningRateTwice, "parameters after step 1"),
    ))
