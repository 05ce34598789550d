"""SoftmaxCrossEntropy: the seed's fused softmax and cross-entropy, eqs. (15)-(18)."""

from __future__ import annotations

from typing import Any

import numpy as np

from scratchnet.layers.base import FLOAT_DTYPES, ShapeError


class SoftmaxCrossEntropy:
    """Softmax of the logits followed by the cross-entropy loss, averaged over the batch.

    For one example with logits ``x`` and one-hot label ``y``::

        y_hat_i = exp(x_i - max(x)) / sum_k exp(x_k - max(x))     (15), (18)
        L       = -sum_i y_i ln(y_hat_i)                           (16), with its minus sign
        dL/dx_j = y_hat_j - y_j                                    (17)

    The seed's (16) lacks the minus sign; without it the loss is negative and gradient
    descent would make the predictions worse. ``ln(y_hat)`` is computed as
    ``(x - max) - ln(sum exp(x - max))`` (log-sum-exp), never as ``ln`` of a softmax that
    may have underflowed to 0, so the loss is finite for any finite logits.

    ``forward(logits (N, K), labels (N,) integers in [0, K)) -> float`` returns the mean
    loss over the batch; ``backward() -> grad_logits (N, K)`` is ``(y_hat - y) / N``.
    """

    kind = "softmax-ce"
    name = "loss (SoftmaxCrossEntropy)"

    def __init__(self) -> None:
        self._cache: tuple[np.ndarray, np.ndarray] | None = None

    def forward(self, logits: np.ndarray, labels: Any) -> float:
        self._check(logits, labels)
        labels = np.asarray(labels)
        shifted = logits - logits.max(axis=1, keepdims=True)                # (18)
        log_sum = np.log(np.exp(shifted).sum(axis=1, keepdims=True))
        log_probs = shifted - log_sum                                       # ln y_hat, (15)
        N = logits.shape[0]
        loss = -log_probs[np.arange(N), labels].mean()                      # (16)
        self._cache = (np.exp(log_probs), labels)
        return float(loss)

    def backward(self) -> np.ndarray:
        """``grad_logits: (N, K) = (y_hat - y) / N``; eq. (17), divided by N for the mean."""
        if self._cache is None:
            raise ShapeError(f"{self.name}: backward called before forward")
        probs, labels = self._cache
        N = probs.shape[0]
        grad = probs.copy()
        grad[np.arange(N), labels] -= 1.0
        grad /= N
        return grad

    def _check(self, logits: Any, labels: Any) -> None:
        def fail(message: str) -> None:
            raise ShapeError(f"{self.name}: {message}")

        if not isinstance(logits, np.ndarray) or logits.ndim != 2:
            fail(f"expected logits of shape (N, K), got {getattr(logits, 'shape', logits)}")
        if logits.dtype not in FLOAT_DTYPES:
            fail(f"expected float32 or float64 logits, got {logits.dtype}")
        if logits.shape[0] == 0:
            fail("expected at least one example, got an empty batch")
        labels = np.asarray(labels)
        if not np.issubdtype(labels.dtype, np.integer):
            fail(f"expected integer class labels, got dtype {labels.dtype}")
        N, K = logits.shape
        if labels.shape != (N,):
            fail(f"expected labels of shape ({N},) to match the logits, got {labels.shape}")
        if labels.size and (labels.min() < 0 or labels.max() >= K):
            fail(f"expected labels in [0, {K - 1}], got values from {labels.min()} to "
                 f"{labels.max()}")
        if not np.isfinite(logits).all():
            fail("expected finite logits, got NaN or infinity")
