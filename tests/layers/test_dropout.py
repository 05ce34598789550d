"""Dropout against torch: with the layer's own mask handed to torch, forward and backward
agree; the drop rate is right (statistically); eval mode is the identity; p = 0 and p = 1
are torch's own F.dropout; masks are drawn anew for every forward, and a handed mask is
used once."""

from __future__ import annotations

import math
import re

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from hypothesis import given, settings
from hypothesis import strategies as st

from scratchnet.layers import Dropout, ShapeError
from tests.strategies import DTYPES, dropout_ps, dtypes, random_input, seeds
from tests.torch_check import assert_layer_matches_torch

rng = np.random.default_rng(0)


def torch_dropout_with_mask_of(layer: Dropout):
    """PyTorch's inverted dropout under the mask ``layer`` drew: ``x * mask / (1 - p)``
    (all zeros at ``p = 1``, as ``F.dropout``)."""
    def fn(x: torch.Tensor, params) -> torch.Tensor:
        keep = torch.from_numpy(layer.mask).to(x.dtype)
        return x * keep * 0.0 if layer.p == 1 else x * keep / (1 - layer.p)
    return fn


SHAPES = {
    "4-D, odd sizes": (3, 5, 7, 2),
    "2-D": (7, 13),
    "one example": (1, 10),
    "empty batch": (0, 6),
}


@pytest.mark.parametrize("shape", SHAPES.values(), ids=SHAPES.keys())
@pytest.mark.parametrize("p", [0.0, 0.1, 0.5, 0.9, 1.0])
@pytest.mark.parametrize("dtype", DTYPES)
def test_dropout_matches_torch_under_its_mask(shape, p: float, dtype) -> None:
    layer = Dropout(p, rng=np.random.default_rng(1))
    assert_layer_matches_torch(layer, rng.standard_normal(shape).astype(dtype),
                               torch_dropout_with_mask_of(layer))
    assert layer.mask.shape == shape and layer.mask.dtype == np.bool_


@settings(max_examples=60, deadline=None)
@given(p=dropout_ps, dtype=dtypes, seed=seeds,
       shape=st.lists(st.integers(0, 7), min_size=1, max_size=4).map(tuple))
def test_dropout_matches_torch_on_random_cases(p: float, dtype, seed: int, shape) -> None:
    layer = Dropout(p, rng=np.random.default_rng(seed))
    x = random_input(np.random.default_rng(seed), shape, dtype)
    assert_layer_matches_torch(layer, x, torch_dropout_with_mask_of(layer), seed)


def test_dropout_takes_a_batch_last_view() -> None:
    x = rng.standard_normal((4, 5, 6, 3)).transpose(3, 0, 1, 2)
    assert not x.flags.c_contiguous
    layer = Dropout(0.3, rng=np.random.default_rng(2))
    assert_layer_matches_torch(layer, x, torch_dropout_with_mask_of(layer))


@pytest.mark.filterwarnings("ignore:invalid value encountered in multiply")  # inf * 0, as torch
@pytest.mark.parametrize("p", [0.0, 1.0])
@pytest.mark.parametrize("dtype", DTYPES)
def test_p_0_and_1_are_torchs_own_dropout(p: float, dtype) -> None:
    """At the ends torch's F.dropout draws nothing that matters: p = 0 is the identity and
    p = 1 all zeros (x * 0: an infinity gives NaN), so the layer meets torch's very function."""
    x = np.array([[1.5, -2.0, 0.0, np.inf, -np.inf]]).astype(dtype)
    layer = Dropout(p, rng=np.random.default_rng(0))
    assert_layer_matches_torch(layer, x, lambda x, params: F.dropout(x, p, training=True))
    assert layer.mask.all() if p == 0 else not layer.mask.any()


@pytest.mark.parametrize("dtype", DTYPES)
def test_eval_mode_is_the_identity(dtype) -> None:
    layer = Dropout(0.7, rng=np.random.default_rng(0)).eval()
    x = rng.standard_normal((5, 3, 4)).astype(dtype)
    assert_layer_matches_torch(layer, x, lambda x, params: F.dropout(x, 0.7, training=False))
    assert layer.mask is None               # nothing drawn in eval mode
    np.testing.assert_array_equal(layer.forward(x), x)


def test_the_kept_values_are_scaled_by_one_over_1_minus_p() -> None:
    layer = Dropout(0.75, rng=np.random.default_rng(3))
    x = np.full((50, 40), 2.0)
    y = layer.forward(x)
    np.testing.assert_array_equal(y[layer.mask], 8.0)     # 2 / (1 - 0.75), exactly
    np.testing.assert_array_equal(y[~layer.mask], 0.0)
    np.testing.assert_array_equal(layer.backward(np.ones_like(x)), np.where(layer.mask, 4.0, 0))


@pytest.mark.parametrize("p", [0.02, 0.3, 0.5, 0.97])
def test_the_drop_rate_is_p(p: float) -> None:
    """The dropped count of n values is Binomial(n, p). Hoeffding's inequality bounds the
    chance that the dropped fraction strays from p by t or more: P(|k/n - p| >= t) <=
    2 exp(-2 n t^2). With t = sqrt(ln(2 / 1e-6) / (2 n)) that is 1e-6: a right layer fails
    this test less than once in a million runs, whatever its seed. With n = 200,000,
    t = 0.0060: a layer dropping 1 - p, or p of the rows only, or a rate off by 0.01, fails."""
    n, delta = 200_000, 1e-6
    t = math.sqrt(math.log(2 / delta) / (2 * n))
    layer = Dropout(p, rng=np.random.default_rng())   # unseeded: any seed must pass
    layer.forward(np.ones((400, 500)))
    dropped = 1 - layer.mask.mean()
    assert abs(dropped - p) < t, f"dropped {dropped:.4f} of the values, p = {p}, bound {t:.4f}"


def test_every_forward_draws_a_new_mask() -> None:
    layer = Dropout(0.5, rng=np.random.default_rng(4))
    x = np.ones((20, 30))
    layer.forward(x)
    first = layer.mask.copy()
    layer.forward(x)
    assert not np.array_equal(first, layer.mask)   # equal with chance 2**-600


def test_the_same_seed_draws_the_same_masks() -> None:
    a, b = (Dropout(0.4, rng=np.random.default_rng(5)) for _ in range(2))
    x = np.ones((6, 7))
    for _ in range(3):
        np.testing.assert_array_equal(a.forward(x), b.forward(x))
        np.testing.assert_array_equal(a.mask, b.mask)


def test_a_handed_mask_is_used_by_the_next_forward_only() -> None:
    layer = Dropout(0.5, rng=np.random.default_rng(6))
    x = rng.standard_normal((8, 9))
    keep = rng.random((8, 9)) < 0.5
    layer.use_mask(keep)
    np.testing.assert_array_equal(layer.forward(x), np.where(keep, 2 * x, 0.0))
    assert layer.mask is keep
    layer.forward(x)                               # draws again
    assert not np.array_equal(layer.mask, keep)


def test_eval_mode_leaves_a_handed_mask_for_the_next_training_forward() -> None:
    layer = Dropout(0.5, rng=np.random.default_rng(7))
    keep = np.array([[True, False, True]])
    layer.use_mask(keep)
    layer.eval().forward(np.ones((1, 3)))
    np.testing.assert_array_equal(layer.train().forward(np.ones((1, 3))), [[2.0, 0.0, 2.0]])


def test_dropout_errors() -> None:
    layer = Dropout(0.5)
    layer.name = "drop1"
    with pytest.raises(ShapeError, match=r"^drop1 \(Dropout\): backward called before forward$"):
        layer.backward(np.zeros(3))
    with pytest.raises(ShapeError, match=r"^drop1 \(Dropout\): use_mask expects a boolean NumPy "
                                         r"array \(True: keep\), got float64$"):
        layer.use_mask(np.ones((2, 3)))
    layer.use_mask(np.ones((2, 3), bool))
    with pytest.raises(ShapeError, match=re.escape("drop1 (Dropout): the mask given to use_mask "
                                                   "has shape (2, 3), the input (3, 2)")):
        layer.forward(np.zeros((3, 2)))
    with pytest.raises(ShapeError, match="expected float32 or float64 input, got int64"):
        layer.forward(np.zeros(3, np.int64))
    with pytest.raises(ShapeError, match=r"^drop1 \(Dropout\): expected a NumPy array of any "
                                         r"shape, got list$"):
        layer.forward([1.0, 2.0])
    with pytest.raises(ShapeError, match=r"use_mask expects a boolean NumPy array \(True: "
                                         r"keep\), got list$"):
        layer.use_mask([True, False])
    layer.forward(np.zeros((2, 3)))
    with pytest.raises(ShapeError, match=r"expected grad_y of shape \(2, 3\)"):
        layer.backward(np.zeros((3, 2)))


@pytest.mark.parametrize("p", [-0.1, 1.5, float("nan")])
def test_p_must_be_a_probability(p: float) -> None:
    with pytest.raises(ValueError, match=r"^Dropout: p must be a probability in \[0, 1\], got "):
        Dropout(p)


def test_repr_and_kind() -> None:
    assert repr(Dropout()) == "Dropout(p=0.5)" and Dropout.kind == "dropout"


def test_output_shape_is_the_input_shape() -> None:
    assert Dropout().output_shape([2, 3, 5]) == (2, 3, 5)
