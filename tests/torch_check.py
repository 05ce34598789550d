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

from reference.agreement import assert_agree, errors
from scratchnet.layers import Layer

TorchFn = Callable[[torch.Tensor, dict[str, torch.Tensor]], torch.Tensor]

#: The largest scaled error seen per dtype in this test session: ``dtype name ->
#: (max abs error / max(1, max |torch value|), what)``; ``tests/conftest.py`` prints it.
WORST: dict[str, tuple[float, str]] = {}


def check(ours: np.ndarray, theirs: np.ndarray, dtype: np.dtype, what: str) -> None:
    """``assert_agree``, remembering the worst error seen for the session summary."""
    abs_err, _, scale = errors(ours, theirs)
    name = np.dtype(dtype).name
    if np.isfinite(abs_err) and abs_err / scale > WORST.get(name, (-1.0, ""))[0]:
        WORST[name] = (abs_err / scale, what)
    assert_agree(ours, theirs, dtype, what)


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
    check(y, yt.detach().numpy(), dtype, f"{layer!r} output")
    check(grad_x, xt.grad.numpy(), dtype, f"{layer!r} input gradient")
    assert set(layer.grads) == set(pt)
    for key, grad in layer.grads.items():
        assert grad.shape == layer.params[key].shape, f"{key} grad shape"
        assert grad.dtype == layer.params[key].dtype, f"{key} grad dtype"
        check(grad, pt[key].grad.numpy(), dtype, f"{layer!r} {key} gradient")
    # The forward pass for inference (skips what backward needs) gives the same output.
    check(layer.infer(x), yt.detach().numpy(), dtype, f"{layer!r} infer output")
