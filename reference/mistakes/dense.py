"""Mistakes in a fully connected layer, eqs. (7)-(10), and the plain Dense they are made in."""

from __future__ import annotations

import numpy as np

from reference.mistakes.entry import Mistake
from scratchnet import naive
from scratchnet.layers import Dense


class PlainDense(Dense):
    """Dense with its backward pass as one method per equation; arguments and results as
    Dense. With examples as rows, ``x: (N, in)``, the seed's column equations read
    ``dE/dW = G^T x`` (8), ``dE/db = sum_n G`` (9), ``dE/dx = G W`` (10)."""

    def backward(self, grad_y: np.ndarray) -> np.ndarray:
        """``grad_y: (N, out)`` -> ``(N, in)``; eqs. (8)-(10)."""
        self.grads["weight"][...] = self.weight_grad(grad_y)
        self.grads["bias"][...] = self.bias_grad(grad_y)
        return self.input_grad(grad_y).astype(grad_y.dtype, copy=False)  # naive: float64

    def weight_grad(self, grad_y: np.ndarray) -> np.ndarray:
        return naive.dense_weight_grad(self._x, grad_y)      # (8): (out, in)

    def bias_grad(self, grad_y: np.ndarray) -> np.ndarray:
        return naive.dense_bias_grad(grad_y)                 # (9): summed over the batch

    def input_grad(self, grad_y: np.ndarray) -> np.ndarray:
        return naive.dense_input_grad(grad_y, self.params["weight"])   # (10): W^T G


class WeightGradTransposed(PlainDense):
    def weight_grad(self, grad_y: np.ndarray) -> np.ndarray:
        return self._x.T @ grad_y                        # (in, out)


class BiasGradFirstExample(PlainDense):
    def bias_grad(self, grad_y: np.ndarray) -> np.ndarray:
        return grad_y[0]


# Real code (CS231n-style `affine_backward` written for a summed loss): `dw = x.T @ dout /
# N` and `db = dout.sum(axis=0) / N`.
class BiasGradAveraged(PlainDense):
    def backward(self, grad_y: np.ndarray) -> np.ndarray:
        grad_x = super().backward(grad_y)
        for grad in self.grads.values():
            grad /= len(grad_y)                          # weight and bias, by the batch size
        return grad_x


class InputGradUntransposed(PlainDense):
    def input_grad(self, grad_y: np.ndarray) -> np.ndarray:
        return grad_y @ self.params["weight"].T          # W G in the seed's columns


MISTAKES = [
    Mistake(
        "dense-weight-grad-transposed", "dense",
        "The weight gradient is X^T G instead of G X^T, its transpose: eq. (8) with the "
        "factors swapped (it fits only a square layer, as the seed's fc1 is).",
        "(8)", WeightGradTransposed, "grad weight", in_network="fc1"),
    Mistake(
        "dense-bias-grad-first-example", "dense",
        "The bias gradient is the first example's instead of the sum over the batch.",
        "(9)", BiasGradFirstExample, "grad bias", "batch > 1", in_network="fc2"),
    Mistake(
        "dense-bias-grad-averaged", "dense",
        "The weight and bias gradients are divided by the batch size: a convention, right "
        "only when the loss's gradient is not averaged already, and PyTorch's mean loss's "
        "is, so here they are N times too small (declare the convention `grads averaged` "
        "and the check multiplies them back).",
        "(8)", BiasGradAveraged, "grad weight", "batch > 1", in_network="fc2"),
    Mistake(
        "dense-input-grad-untransposed", "dense",
        "The input gradient multiplies by W instead of W^T: eq. (10) without its transpose "
        "(it fits only a square layer, as the seed's fc1 is).",
        "(10)", InputGradUntransposed, "grad input", in_network="fc1"),
]
