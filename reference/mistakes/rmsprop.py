"""Mistakes in RMSprop, and the plain RMSprop they are made in (torch.optim.RMSprop's
documented algorithm, see ``scratchnet.optim.RMSprop``; the seed names no optimizer
equations)."""

from __future__ import annotations

import numpy as np

from reference.mistakes.entry import Catalogue, Mistake
from scratchnet.optim import RMSprop


class PlainRMSprop(RMSprop):
    """RMSprop as torch.optim.RMSprop documents it, with the square average and the
    denominator as methods of their own."""

    def step(self) -> None:
        for p, g, buffers in self._params_and_grads():
            state = dict(zip(self.buffer_names, buffers, strict=True))
            g = g + self.weight_decay * p
            self.accumulate(state["square_avg"], g)
            update = g / self.denominator(state["square_avg"], state.get("grad_avg"), g)
            if self.momentum > 0:
                buf = state["momentum_buffer"]
                buf[...] = self.momentum * buf + update
                update = buf
            p -= self.lr * update
        self.steps += 1

    def accumulate(self, square_avg: np.ndarray, g: np.ndarray) -> None:
        square_avg[...] = self.alpha * square_avg + (1 - self.alpha) * g * g

    def variance(self, square_avg: np.ndarray, grad_avg: np.ndarray | None,
                 g: np.ndarray) -> np.ndarray:
        """The square average, less the square of the gradient's average when centered."""
        if not self.centered:
            return square_avg
        grad_avg[...] = self.alpha * grad_avg + (1 - self.alpha) * g
        return square_avg - grad_avg * grad_avg

    def denominator(self, square_avg: np.ndarray, grad_avg: np.ndarray | None,
                    g: np.ndarray) -> np.ndarray:
        return np.sqrt(self.variance(square_avg, grad_avg, g)) + self.eps


class NoSquareRoot(PlainRMSprop):
    # The pattern: `w -= lr * dw / (cache + eps)`, the cache of squares used as if it
    # were their root.
    def denominator(self, square_avg: np.ndarray, grad_avg: np.ndarray | None,
                    g: np.ndarray) -> np.ndarray:
        return self.variance(square_avg, grad_avg, g) + self.eps


class EpsInsideSqrt(PlainRMSprop):
    # The pattern: `dw / np.sqrt(cache + eps)`, as Keras's RMSprop and many tutorials
    # write it.
    def denominator(self, square_avg: np.ndarray, grad_avg: np.ndarray | None,
                    g: np.ndarray) -> np.ndarray:
        return np.sqrt(self.variance(square_avg, grad_avg, g) + self.eps)


class DecaySquaredWithGradient(PlainRMSprop):
    # The pattern: `cache = decay * cache + ((1 - decay) * dw) ** 2`, a bracket around
    # the weight and the gradient, so the weight is squared too (1e-4 for 0.99).
    def accumulate(self, square_avg: np.ndarray, g: np.ndarray) -> None:
        square_avg[...] = self.alpha * square_avg + ((1 - self.alpha) * g) ** 2


class CacheNotKept(PlainRMSprop):
    # The pattern: the cache a local variable of the update (`cache =
    # np.zeros_like(w)` inside it, or a config that is never given back), so every step
    # starts it from zero.
    def accumulate(self, square_avg: np.ndarray, g: np.ndarray) -> None:
        square_avg[...] = (1 - self.alpha) * g * g


CATALOGUE = Catalogue(
    "rmsprop", PlainRMSprop, "optimizer check", (), ("parameters after step",), (
        Mistake(
            "rmsprop-no-sqrt", "rmsprop",
            "The gradient is divided by the average of its squares itself, not by its "
            "square root.",
            None, NoSquareRoot, "parameters after step 1"),
        Mistake(
            "rmsprop-eps-inside-sqrt", "rmsprop",
            "Epsilon is added under the square root, sqrt(v + eps), where PyTorch adds it "
            "after, sqrt(v) + eps.",
            None, EpsInsideSqrt, "parameters after step 1"),
        Mistake(
            "rmsprop-decay-squared-with-gradient", "rmsprop",
            "The square average adds ((1 - alpha) * g)^2 instead of (1 - alpha) * g^2: "
            "the weight is squared with the gradient.",
            None, DecaySquaredWithGradient, "parameters after step 1"),
        Mistake(
            "rmsprop-cache-not-kept", "rmsprop",
            "The square average is started from zero at every step, so it holds (1 - "
            "alpha) g^2 of this step alone.",
            None, CacheNotKept, "parameters after step 2"),
    ))
