"""Mistakes in SGD, Adam and gradient clipping, and the plain optimizers they are made in.

The seed trains with plain gradient descent and names no optimizer equations, so these
mistakes break torch.optim's documented algorithms (see ``scratchnet.optim``) instead.
The plain optimizers step through ``_params_and_grads()``, as scratchnet's do: on a
``Sequential`` that is the whole network's flat arrays at once, so a variant's one method
is what every training step runs.
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np

from reference.mistakes.entry import Catalogue, Mistake
from scratchnet.optim import SGD, Adam, global_grad_norm


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
        return g + self.momentum * velocity if self.nesterov else velocity

    def with_weight_decay(self, p: np.ndarray, g: np.ndarray) -> np.ndarray:
        return g + self.weight_decay * p

    def accumulate(self, velocity: np.ndarray, g: np.ndarray) -> None:
        if self.steps == 0:
            velocity[...] = g                            # torch: the first step takes g itself
        else:
            velocity[...] = self.momentum * velocity + (1 - self.dampening) * g


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
        return self.with_weight_decay(p, velocity)


class DampeningOnFirstStep(PlainSGD):
    def accumulate(self, velocity: np.ndarray, g: np.ndarray) -> None:
        velocity[...] = self.momentum * velocity + (1 - self.dampening) * g   # from zero


class PlainAdam(Adam):
    """Adam as torch.optim.Adam documents it, with the bias corrections and the
    denominator as methods of their own."""

    def step(self) -> None:
        beta1, beta2 = self.betas
        t = self.steps + 1
        for p, g, (m, v) in self._params_and_grads():
            g = self.with_weight_decay(p, g)
            m[...] = beta1 * m + (1 - beta1) * g
            v[...] = beta2 * v + (1 - beta2) * g * g
            m_hat, v_hat = self.corrected(m, beta1, t), self.corrected(v, beta2, t)
            p -= self.lr * m_hat / self.denominator(v_hat)
        self.steps = t

    def with_weight_decay(self, p: np.ndarray, g: np.ndarray) -> np.ndarray:
        return g + self.weight_decay * p                 # L2: added to the gradient

    def corrected(self, moment: np.ndarray, beta: float, t: int) -> np.ndarray:
        return moment / (1 - beta**t)

    def denominator(self, v_hat: np.ndarray) -> np.ndarray:
        return np.sqrt(v_hat) + self.eps


class NoBiasCorrection(PlainAdam):
    def corrected(self, moment: np.ndarray, beta: float, t: int) -> np.ndarray:
        return moment


class EpsInsideSqrt(PlainAdam):
    def denominator(self, v_hat: np.ndarray) -> np.ndarray:
        return np.sqrt(v_hat + self.eps)


class DecoupledWeightDecay(PlainAdam):
    def with_weight_decay(self, p: np.ndarray, g: np.ndarray) -> np.ndarray:
        p -= self.lr * self.weight_decay * p             # AdamW's decay, on the weights
        return g


def clip_per_tensor(grads: Mapping[str, np.ndarray], max_norm: float) -> float:
    """Like ``clip_grad_norm``, but each gradient is clipped by its own norm."""
    total = global_grad_norm(grads)
    for g in grads.values():
        coef = max_norm / (np.linalg.norm(g) + 1e-6)
        if coef < 1.0:
            g *= coef
    return total


def clip_always_rescales(grads: Mapping[str, np.ndarray], max_norm: float) -> float:
    """Like ``clip_grad_norm``, but the gradients are scaled to ``max_norm`` whatever
    their norm."""
    total = global_grad_norm(grads)
    for g in grads.values():
        g *= max_norm / (total + 1e-6)
    return total


_MISTAKES = [
    Mistake(
        "sgd-momentum-after-step", "sgd",
        "The parameter moves by the old velocity, and only then is the velocity updated "
        "with this step's gradient.",
        None, MomentumAfterStep, "parameters after step 1", "momentum"),
    Mistake(
        "sgd-weight-decay-after-momentum", "sgd",
        "Weight decay is added to the step after the momentum buffer, so the buffer never "
        "sees it (PyTorch adds it to the gradient before).",
        None, WeightDecayAfterMomentum, "parameters after step 2",
        "momentum and weight decay"),
    Mistake(
        "sgd-dampening-first-step", "sgd",
        "The first step dampens the gradient too ((1 - dampening) * g), where PyTorch "
        "starts the momentum buffer at the gradient itself.",
        None, DampeningOnFirstStep, "parameters after step 1", "dampening"),
    Mistake(
        "adam-no-bias-correction", "adam",
        "Adam without the corrections by 1 - beta^t: the first steps are far too small "
        "(the moments start at zero).",
        None, NoBiasCorrection, "parameters after step 1"),
    Mistake(
        "adam-eps-inside-sqrt", "adam",
        "Epsilon is added under the square root, sqrt(v_hat + eps), instead of to it, "
        "sqrt(v_hat) + eps.",
        None, EpsInsideSqrt, "parameters after step 1"),
    Mistake(
        "adam-decoupled-weight-decay", "adam",
        "Weight decay shrinks the weights directly (AdamW's decoupled decay) instead of "
        "being added to the gradient, as PyTorch's Adam does.",
        None, DecoupledWeightDecay, "parameters after step 1", "weight decay"),
    Mistake(
        "clip-per-tensor", "clip",
        "Each gradient is clipped by its own norm instead of all together by their global "
        "norm, which changes the direction of the step.",
        None, clip_per_tensor, "clipped gradients"),
    Mistake(
        "clip-always-rescales", "clip",
        "The gradients are scaled to max_norm even when their norm is already below it, "
        "which normalises them instead of clipping.",
        None, clip_always_rescales, "clipped gradients", "norm below max_norm"),
]


def _of(kind: str) -> tuple[Mistake, ...]:
    return tuple(m for m in _MISTAKES if m.kind == kind)


CATALOGUES = (
    Catalogue("sgd", PlainSGD, "optimizer check",
              ("momentum", "momentum and weight decay", "dampening"),
              ("parameters after step",), _of("sgd")),
    Catalogue("adam", PlainAdam, "optimizer check", ("weight decay",),
              ("parameters after step",), _of("adam")),
    Catalogue("clip", None, "clipping check", ("norm below max_norm",),
              ("clipped gradients", "norm"), _of("clip")),
)
