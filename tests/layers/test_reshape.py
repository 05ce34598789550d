"""Flatten against torch.flatten, for C-ordered and batch-last inputs."""

from __future__ import annotations

import re

import numpy as np
import pytest
import torch

from scratchnet.layers import Flatten, ShapeError
from tests.torch_check import assert_layer_matches_torch

rng = np.random.default_rng(0)


@pytest.mark.parametrize("name, x", [
    ("C order", rng.standard_normal((3, 8, 4, 4))),
    ("batch-last view", rng.standard_normal((8, 4, 4, 3)).transpose(3, 0, 1, 2)),
    ("batch of one", rng.standard_normal((1, 4, 12, 12))),
    ("rank 3", rng.standard_normal((2, 5, 7))),
    ("rank 2, nothing to flatten", rng.standard_normal((3, 6))),
])
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_flatten_matches_torch(name: str, x: np.ndarray, dtype) -> None:
    assert_layer_matches_torch(Flatten(), x.astype(dtype), lambda x, p: torch.flatten(x, 1))


def test_flatten_of_batch_last_is_a_view() -> None:
    x = rng.standard_normal((8, 4, 4, 3)).transpose(3, 0, 1, 2)
    assert np.shares_memory(Flatten().forward(x), x)


def test_flatten_errors() -> None:
    for x, message in [
        (np.zeros(5), "expected an input (N, ...) of rank >= 2, got shape (5,)"),
        ([[1.0, 2.0]], "expected a NumPy array (N, ...) of rank >= 2, got list"),
    ]:
        with pytest.raises(ShapeError, match=f"^{re.escape('Flatten: ' + message)}$"):
            Flatten().forward(x)
    with pytest.raises(ShapeError, match="Flatten: backward called before forward"):
        Flatten().backward(np.zeros((2, 3)))
