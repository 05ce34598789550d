"""compare(): rows for every quantity, and it finds the layer that holds a planted bug."""

from __future__ import annotations

import numpy as np
import pytest

from reference import compare, format_comparison
from scratchnet import seed_network
from scratchnet.layers import MaxPool2D


def batch(n: int = 4, dtype=np.float64):
    rng = np.random.default_rng(0)
    return rng.random((n, 1, 28, 28)).astype(dtype), rng.integers(0, 10, n)


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_compare_passes_for_the_seed_network(dtype) -> None:
    x, labels = batch(dtype=dtype)
    df = compare(seed_network("full", dtype=dtype), x, labels)
    assert df["passed"].all(), format_comparison(df)
    assert df.attrs["first_divergence"] is None
    # 11 outputs, the loss, 11 input gradients and 8 parameter gradients
    assert len(df) == 11 + 1 + 11 + 8
    assert list(df.columns) == ["layer", "quantity", "shape", "max_abs_err", "max_rel_err",
                                "tolerance", "passed"]
    assert "All 31 quantities agree with PyTorch" in format_comparison(df)
    if dtype == np.float64:
        assert df["max_abs_err"].max() < 1e-14  # the figure the project promises


class MirroredPool(MaxPool2D):
    """A planted bug: the backward pass sends each window's gradient to the mirror window."""

    def backward(self, grad_y):
        return super().backward(np.ascontiguousarray(grad_y[..., ::-1, ::-1]))


def test_compare_names_the_first_divergent_layer() -> None:
    net = seed_network("full")
    bad = MirroredPool(2)
    bad.name = "pool2"
    net.layers["pool2"] = bad
    x, labels = batch()
    df = compare(net, x, labels)
    assert df.attrs["first_divergence"] == "pool2 grad input"
    text = format_comparison(df)
    assert "First divergence: pool2 grad input" in text
    assert "backward pass" in text
    # Everything computed before the bug still agrees.
    before = df.index[df["layer"].eq("pool2") & df["quantity"].eq("grad input")][0]
    assert df.loc[: before - 1, "passed"].all()
