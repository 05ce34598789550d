"""SoftmaxCrossEntropy against torch.nn.functional.cross_entropy: extreme and equal logits."""

from __future__ import annotations

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from reference.agreement import assert_agree
from scratchnet import ShapeError, SoftmaxCrossEntropy
from tests.gradcheck import assert_matches_finite_differences, numerical_gradient

rng = np.random.default_rng(0)


def assert_loss_matches_torch(logits: np.ndarray, labels: np.ndarray) -> None:
    loss_fn = SoftmaxCrossEntropy()
    loss = loss_fn.forward(logits, labels)
    grad = loss_fn.backward()
    lt = torch.from_numpy(logits.copy()).requires_grad_(True)
    t_loss = F.cross_entropy(lt, torch.from_numpy(labels.astype(np.int64)))
    t_loss.backward()
    assert np.isfinite(loss) and np.isfinite(grad).all()
    assert grad.dtype == logits.dtype
    assert_agree(np.float64(loss), t_loss.detach().numpy(), logits.dtype, "loss")
    assert_agree(grad, lt.grad.numpy(), logits.dtype, "grad logits")


@pytest.mark.parametrize("name, logits, labels", [
    ("normal", rng.standard_normal((8, 10)), rng.integers(0, 10, 8)),
    ("one example", rng.standard_normal((1, 10)), np.array([3])),
    ("huge positive", rng.choice([1e4, -1e4, 0.0], (6, 10)), rng.integers(0, 10, 6)),
    ("all equal rows", np.full((4, 10), 7.5), np.array([0, 9, 3, 3])),
    ("all equal huge", np.full((3, 10), -1e4), np.array([1, 2, 3])),
    ("confident and right", np.eye(10)[:5] * 1e4, np.arange(5)),
    ("confident and wrong", np.eye(10)[:5] * 1e4, np.arange(5) + 1),
    ("two classes", rng.standard_normal((5, 2)) * 50, np.array([0, 1, 1, 0, 1])),
    ("uint8 labels", rng.standard_normal((4, 10)), np.array([0, 9, 5, 1], np.uint8)),
])
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_loss_matches_torch(name: str, logits: np.ndarray, labels: np.ndarray, dtype) -> None:
    assert_loss_matches_torch(logits.astype(dtype), labels)


def test_loss_has_its_minus_sign() -> None:
    """The seed's (16) lacks the minus; the real loss is positive and ln(10) at uniform."""
    loss = SoftmaxCrossEntropy().forward(np.zeros((3, 10)), np.array([1, 2, 3]))
    assert loss == pytest.approx(np.log(10), rel=1e-15)


def test_loss_gradient_matches_finite_differences() -> None:
    logits, labels = rng.standard_normal((4, 6)), np.array([0, 5, 2, 2])
    loss_fn = SoftmaxCrossEntropy()
    loss_fn.forward(logits, labels)
    grad = loss_fn.backward()
    numeric = numerical_gradient(lambda: loss_fn.forward(logits, labels), logits)
    assert_matches_finite_differences(grad, numeric, "softmax-CE")


@pytest.mark.parametrize("logits, labels, message", [
    (np.zeros((3, 10)), np.array([0, 1]), r"expected labels of shape \(3,\) to match"),
    (np.zeros((3, 10)), np.array([0, 1, 10]), r"expected labels in \[0, 9\], got values from 0"),
    (np.zeros((3, 10)), np.array([0, -1, 2]), r"expected labels in \[0, 9\]"),
    (np.zeros((3, 10)), np.array([0.0, 1.0, 2.0]), "expected integer class labels, got dtype"),
    (np.zeros(10), np.array([0]), r"expected logits of shape \(N, K\), got \(10,\)"),
    ([[1.0, 2.0]], np.array([0]), r"expected logits of shape \(N, K\), got \[\[1.0, 2.0\]\]"),
    (np.zeros((0, 10)), np.array([], int), "expected at least one example, got an empty batch"),
    (np.zeros((2, 10)), np.array([True, False]), "expected integer class labels, got dtype bool"),
    (np.zeros((2, 10), np.int64), np.array([0, 1]), "expected float32 or float64 logits"),
    (np.array([[np.nan, 0.0]]), np.array([0]), "expected finite logits, got NaN or infinity"),
])
def test_loss_errors(logits, labels, message: str) -> None:
    with pytest.raises(ShapeError, match=r"loss \(SoftmaxCrossEntropy\): " + message):
        SoftmaxCrossEntropy().forward(logits, labels)


def test_loss_backward_before_forward() -> None:
    with pytest.raises(ShapeError, match="backward called before forward"):
        SoftmaxCrossEntropy().backward()
