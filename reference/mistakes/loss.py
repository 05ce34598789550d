"""Mistakes in softmax with cross-entropy, eqs. (15)-(18), and the plain loss they are made in."""

from __future__ import annotations

from typing import Any

import numpy as np

from reference.mistakes.entry import Mistake
from scratchnet import SoftmaxCrossEntropy, naive


class PlainSoftmaxCrossEntropy(SoftmaxCrossEntropy):
    """Softmax and cross-entropy, averaged over the batch, one method per equation.

    ``forward(logits (N, K), labels (N,)) -> float``, ``backward() -> (N, K)``, as
    SoftmaxCrossEntropy: ``ln y_hat`` by log-sum-exp with the max subtracted (15, 18), the
    loss ``-mean_n ln y_hat[n, label_n]`` (16), its gradient ``(y_hat - y) / N`` (17).
    """

    def forward(self, logits: np.ndarray, labels: Any) -> float:
        log_probs = self.log_softmax(logits)
        self._probs, self._labels = np.exp(log_probs), np.asarray(labels)
        return self.cross_entropy(log_probs, self._labels)

    def backward(self) -> np.ndarray:
        return naive.cross_entropy_grad(self._probs, self._labels)   # (17), and 1/N of the mean

    def log_softmax(self, logits: np.ndarray) -> np.ndarray:
        return naive.log_softmax(logits)                                     # (15), (18)

    def cross_entropy(self, log_probs: np.ndarray, labels: np.ndarray) -> float:
        return naive.cross_entropy(log_probs, labels)                        # (16)


class MissingMinus(PlainSoftmaxCrossEntropy):
    def cross_entropy(self, log_probs: np.ndarray, labels: np.ndarray) -> float:
        return float(log_probs[np.arange(len(labels)), labels].mean())       # (16) as printed


class GradNotAveraged(PlainSoftmaxCrossEntropy):
    def backward(self) -> np.ndarray:
        one_hot = np.eye(self._probs.shape[1])[self._labels]
        return self._probs - one_hot                                          # no 1/N


class GradSignFlipped(PlainSoftmaxCrossEntropy):
    def backward(self) -> np.ndarray:
        one_hot = np.eye(self._probs.shape[1])[self._labels]
        return (one_hot - self._probs) / len(self._labels)                   # y - y_hat


# Real code (CS231n's `softmax_loss` and the tutorials after it): the probabilities by
# the shifted exp, then `loss = -np.sum(np.log(probs[np.arange(N), y])) / N`: ln 0 is
# -inf, so a label whose probability underflows gives a loss of +inf (not NaN), while the
# gradient, probs - one_hot over N, stays right.
class LogOfSoftmax(PlainSoftmaxCrossEntropy):
    def forward(self, logits: np.ndarray, labels: Any) -> float:
        exp = np.exp(logits - logits.max(axis=1, keepdims=True))
        self._probs, self._labels = exp / exp.sum(axis=1, keepdims=True), np.asarray(labels)
        n = len(self._labels)
        return float(-np.sum(np.log(self._probs[np.arange(n), self._labels])) / n)


class SoftmaxWrongAxis(PlainSoftmaxCrossEntropy):
    def log_softmax(self, logits: np.ndarray) -> np.ndarray:
        shifted = logits - logits.max(axis=0, keepdims=True)                 # over the batch
        return shifted - np.log(np.exp(shifted).sum(axis=0, keepdims=True))


class SoftmaxNoMaxShift(PlainSoftmaxCrossEntropy):
    def log_softmax(self, logits: np.ndarray) -> np.ndarray:
        return logits - np.log(np.exp(logits).sum(axis=1, keepdims=True))   # exp overflows


MISTAKES = [
    Mistake(
        "ce-missing-minus", "softmax-ce",
        "The loss is the seed's (16) as printed, without its minus sign: negative, and "
        "lowest for the worst predictions.",
        "(16)", MissingMinus, "loss"),
    Mistake(
        "ce-grad-not-averaged", "softmax-ce",
        "The loss is the batch's mean, but its gradient is not divided by the batch size.",
        "(17)", GradNotAveraged, "grad logits", "batch > 1"),
    Mistake(
        "ce-grad-sign-flipped", "softmax-ce",
        "The gradient is y - y_hat instead of y_hat - y, as the seed's (16) without its "
        "minus would give: descent then climbs the loss.",
        "(17)", GradSignFlipped, "grad logits"),
    Mistake(
        "ce-log-of-softmax", "softmax-ce",
        "The loss takes ln of the label's softmax probability, which is exactly 0 for a "
        "class far below the best: a confidently wrong prediction gets a loss of +inf "
        "instead of a large finite one (log-sum-exp keeps it finite); the gradient is "
        "right.",
        "(16)", LogOfSoftmax, "loss", "large logits"),
    Mistake(
        "softmax-wrong-axis", "softmax-ce",
        "The softmax is normalised over the batch axis instead of over the classes.",
        "(15)", SoftmaxWrongAxis, "loss"),
    Mistake(
        "softmax-no-max-shift", "softmax-ce",
        "The softmax exponentiates the logits without subtracting their maximum first (the "
        "seed's (18) missing): exp overflows at large logits and the loss is NaN or "
        "infinite.",
        "(18)", SoftmaxNoMaxShift, "loss", "large logits"),
]
