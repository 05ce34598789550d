"""The one comparison helper every layer test goes through.

``assert_layer_matches_torch(layer, x, torch_fn)`` runs ``layer`` forward on ``x`` and
backward on a random upstream gradient, runs ``torch_fn`` (a ``torch.nn.functional``
expression of the same layer) on the same input and weights with the same upstream
gradient, and asserts that the output, the input gradient and every parameter gradient
agree under the project's one rule, :mod:`reference.agreement`.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import torch

from reference.agreement import assert_agree
from scratchnet.layers import Layer

TorchFn = Callable[[torch.Tensor, dict[str, torch.Tensor]], torch.Tensor]


def assert_layer_matches_torch(
    layer: Layer, x: np.ndarray, torch_fn: TorchFn, seed: int = 0
) -> None:
    """Assert ``layer`` computes what ``torch_fn`` computes, forward and backward."""
    rng = np.random.default_rng(seed)
    y = layer.forward(x)
    grad_y = rng.standard_normal(y.shape).astype(y.dtype)  # random, not ones: sees mix-ups
    grad_x = layer.backward(grad_y)

    xt = torch.from_numpy(np.array(x)).requires_grad_(True)
    pt = {k: torch.from_numpy(v.copy()).requires_grad_(True) for k, v in layer.params.items()}
    yt = torch_fn(xt, pt)
    yt.backward(torch.from_numpy(grad_y))

    dtype = x.dtype
    assert y.shape == tuple(yt.shape), f"{layer!r} output shape {y.shape} vs {tuple(yt.shape)}"
    assert_agree(y, yt.detach().numpy(), dtype, f"{layer!r} output")
    assert_agree(grad_x, xt.grad.numpy(), dtype, f"{layer!r} input gradient")
    assert set(layer.grads) == set(pt)
    for key, grad in layer.grads.items():
        assert grad.shape == layer.params[key].shape, f"{key} grad shape"
        assert grad.dtype == layer.params[key].dtype, f"{key} grad dtype"
        assert_agree(grad, pt[key].grad.numpy(), dtype, f"{layer!r} {key} gradient")
