"""Mistakes in Adam, and the plain Adam they are made in (torch.optim.Adam's documented
algorithm, see ``scratchnet.optim.Adam``; the seed names no optimizer equations)."""

from __future__ import annotations

import numpy as np

from reference.mistakes.entry import Catalogue, Mistake
from scratchnet.optim import Adam


class PlainAdam(Adam):
    """Adam as torch.optim.Adam documents it, with the weight decay, the second moment
    (AMSGrad's maximum), the bias corrections and the denominator as methods of their
    own."""

    def step(self) -> None:
        beta1, beta2 = self.betas
        t = self.steps + 1
        for p, g, (m, v, *v_max) in self._params_and_grads():
            g = self.with_weight_decay(p, g)
            m[...] = beta1 * m + (1 - beta1) * g
            v[...] = beta2 * v + (1 - beta2) * g * g
            m_hat = self.corrected(m, beta1, t)
            v_hat = self.corrected(self.second_moment(v, v_max), beta2, t)
            p -= self.lr * m_hat / self.denominator(v_hat)
        self.steps = t

    def with_weight_decay(self, p: np.ndarray, g: np.ndarray) -> np.ndarray:
        return g + self.weight_decay * p                 # L2: added to the gradient

    def second_moment(self, v: np.ndarray, v_max: list[np.ndarray]) -> np.ndarray:
        if not self.amsgrad:
            return v
        np.maximum(v_max[0], v, out=v_max[0])            # AMSGrad: the largest v so far
        return v_max[0]

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


class StepCountFromOne(PlainAdam):
    # The pattern: the step count starts at 1 (`self.t = 1`, `config.setdefault('t', 1)`)
    # and is incremented before the corrections use it, so the first step corrects by
    # 1 - beta^2.
    def corrected(self, moment: np.ndarray, beta: float, t: int) -> np.ndarray:
        return moment / (1 - beta ** (t + 1))


class EpsOnUncorrectedV(PlainAdam):
    # The pattern: the paper's "more efficient" order (Kingma & Ba, section 2), the
    # corrections folded into the step size, `lr_t = lr * sqrt(1 - beta2^t) / (1 -
    # beta1^t)`, then `w -= lr_t * m / (sqrt(v) + eps)`: eps is added to the uncorrected
    # sqrt(v), which is eps / sqrt(1 - beta2^t) on torch's scale.
    def denominator(self, v_hat: np.ndarray) -> np.ndarray:
        correction = np.sqrt(1 - self.betas[1] ** (self.steps + 1))
        return (np.sqrt(v_hat * correction**2) + self.eps) / correction


CATALOGUE = Catalogue(
    "adam", PlainAdam, "optimizer check", ("weight decay",), ("parameters after step",), (
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
            "adam-step-count-from-one", "adam",
            "The step count starts at 1 and is incremented before use, so the bias "
            "corrections are one step late (1 - beta^2 at the first step).",
            None, StepCountFromOne, "parameters after step 1"),
        Mistake(
            "adam-eps-on-uncorrected-v", "adam",
            "The bias corrections are folded into the step size (the paper's efficient "
            "form), so eps is added to the uncorrected sqrt(v): eps / sqrt(1 - beta2^t) on "
            "PyTorch's scale.",
            None, EpsOnUncorrectedV, "parameters after step 1"),
    ))
