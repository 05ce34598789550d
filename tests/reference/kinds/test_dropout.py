"""Dropout's twin: PyTorch's inverted dropout under the mask the layer drew, so that
``to_torch``, ``compare`` and a lockstep of a network with Dropout agree; the identity in
eval mode. float64 at the project's 1e-12 (a right layer agrees to ~1e-16)."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from reference import compare, format_comparison, to_torch
from scratchnet import Dense, Dropout, ReLU, Sequential


def network(p: float, seed: int = 0) -> Sequential:
    rng = np.random.default_rng(seed)
    return Sequential(("fc1", Dense(6, 9, rng=rng)), ("relu1", ReLU()),
                      ("drop1", Dropout(p, rng=rng)), ("fc2", Dense(9, 4, rng=rng)))


@pytest.mark.parametrize("p", [0.0, 0.05, 0.5, 0.95, 1.0])
def test_compare_agrees_on_a_network_with_dropout(p: float) -> None:
    net = network(p)
    x = np.random.default_rng(1).standard_normal((5, 6))
    df = compare(net, x, np.array([0, 3, 1, 2, 2]))
    assert df["passed"].all(), format_comparison(df)
    assert df["max_abs_err"].max() < 1e-13


def test_the_twin_applies_the_layers_mask_and_is_the_identity_in_eval_mode() -> None:
    net = network(0.5)
    x = np.random.default_rng(2).standard_normal((7, 6))
    twin = to_torch(net)
    y = net.forward(x)
    mask = net.layers["drop1"].mask
    assert 0 < mask.mean() < 1
    np.testing.assert_allclose(twin(torch.from_numpy(x)).detach().numpy(), y, rtol=0,
                               atol=1e-13)
    net.eval()                                   # the layer in eval mode: the identity
    np.testing.assert_allclose(twin(torch.from_numpy(x)).detach().numpy(), net.forward(x),
                               rtol=0, atol=1e-13)
    net.train()
    twin.eval()                                  # the twin in eval mode: the identity too
    drop = twin.drop1
    h = torch.from_numpy(np.random.default_rng(3).standard_normal((7, 9)))
    assert torch.equal(drop(h), h)


def test_the_twin_says_when_the_layer_has_drawn_no_mask() -> None:
    twin = to_torch(Sequential(("drop1", Dropout(0.5))))
    with pytest.raises(RuntimeError, match="has drawn none yet: run the layer first"):
        twin(torch.zeros(2, 3, dtype=torch.float64))
